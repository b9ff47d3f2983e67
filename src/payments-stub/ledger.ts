/**
 * The stub's memory of payments: one entry per Idempotency-Key. A key is charged at most once;
 * concurrent calls with the same key wait for the first one's outcome instead of charging again.
 */
export interface LedgerEntry {
  paymentId: string | undefined;
  amount: number;
  currency: string;
  /** Charges actually made for this key: more than 1 would be a double charge. */
  charges: number;
  /** Every call received for this key, failed or not. */
  calls: number;
  callTimes: number[];
}

export class PaymentLedger {
  private readonly entries = new Map<string, LedgerEntry>();
  private sequence = 0;

  entry(key: string, amount: number, currency: string): LedgerEntry {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { paymentId: undefined, amount, currency, charges: 0, calls: 0, callTimes: [] };
      this.entries.set(key, entry);
    }
    return entry;
  }

  charge(entry: LedgerEntry): string {
    entry.charges += 1;
    entry.paymentId = `pay_${(++this.sequence).toString().padStart(8, '0')}`;
    return entry.paymentId;
  }

  snapshot(): {
    keys: Record<string, LedgerEntry>;
    totals: { keys: number; charges: number; calls: number };
  } {
    const keys: Record<string, LedgerEntry> = {};
    let charges = 0;
    let calls = 0;
    for (const [key, entry] of this.entries) {
      keys[key] = entry;
      charges += entry.charges;
      calls += entry.calls;
    }
    return { keys, totals: { keys: this.entries.size, charges, calls } };
  }

  get(key: string): LedgerEntry | undefined {
    return this.entries.get(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
