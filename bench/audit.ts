/**
 * After the drain, the bench checks what it measured kept every promise: the invariant checker
 * over every stored order, against the payment stub's ledger. An order accepted but never seen
 * completing is shown as stored (status, history, outbox) so a failed run says which part let
 * it down. Throws when anything is wrong: a fast run that loses an order is no result.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  ORDERS_STREAM,
  checkInvariants,
  decodeOrderRecord,
  isNoMessageFound,
  readLedgerCharges,
  openOrdersBucket,
  violationCount,
} from '../src/shared/index.js';
import type { LoadResult } from './load.js';

export async function auditRun(
  nc: NatsConnection,
  paymentUrl: string,
  result: Pick<LoadResult, 'acceptedIds' | 'unfinished'>,
): Promise<number> {
  const charges = await readLedgerCharges(`${paymentUrl}/_stub/ledger`);
  const js = jetstream(nc);
  const report = await checkInvariants({ js, charges, accepted: result.acceptedIds });
  const violations = violationCount(report);
  if (result.unfinished.length === 0 && violations === 0) return 0;

  const orders = await openOrdersBucket(js);
  const streams = (await jetstreamManager(nc)).streams;
  const completedEventStored = async (orderId: string) => {
    try {
      const subject = `orders.events.completed.${orderId}`;
      return (await streams.getMessage(ORDERS_STREAM, { last_by_subj: subject })) !== null;
    } catch (err) {
      if (isNoMessageFound(err)) return false;
      throw err;
    }
  };
  const stored = await Promise.all(
    result.unfinished.slice(0, 20).map(async (orderId) => {
      const entry = await orders.get(orderId);
      const record = entry ? decodeOrderRecord(entry.value) : undefined;
      return {
        orderId,
        revision: entry?.revision,
        status: record?.status,
        history: record?.context.history.map((h) => h.status),
        outbox: record?.outbox.map((e) => e.type),
        lastError: record?.context.lastError,
        completedEventInOrdersStream: await completedEventStored(orderId),
      };
    }),
  );
  throw new Error(
    `${result.unfinished.length} accepted order(s) never seen completing; ${violations} invariant violation(s)\n` +
      `unfinished, as stored: ${JSON.stringify(stored, null, 2)}\n` +
      `violations: ${JSON.stringify(report.violations)}`,
  );
}
