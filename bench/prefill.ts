/**
 * The cost-growth scenario's pre-fill: the `orders` and `idempotency` buckets filled with
 * COMPLETED orders (with their history) and answered idempotency keys, written as production
 * writes them, pipelined; and the ids of those orders, kept for GETs of random ones.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nuid } from '@nats-io/transport-node';
import { initialRecord, nextRecord } from '../src/actors/index.js';
import { createIdempotencyStore, requestFingerprint } from '../src/gateway/idempotency.js';
import {
  ORDERS_KV_STREAM,
  OUTBOX_RELAY_CONSUMER,
  encodeOrderRecord,
  openIdempotencyBucket,
  openOrdersBucket,
  withoutOutboxEvents,
  type OrderRecord,
} from '../src/shared/index.js';
import { BENCH_TENANT, type BenchStack } from './stack.js';

const FILL_IN_FLIGHT = 512;

const at = '2026-01-01T00:00:00.000Z';

function completedOrder(orderId: string): OrderRecord {
  let record = initialRecord({
    orderId,
    tenant: BENCH_TENANT,
    customerId: `customer-${orderId.slice(-4)}`,
    currency: 'USD',
    items: [{ sku: 'prefill', quantity: 1, unitPrice: 1000 }],
    amount: 1000,
    correlationId: orderId,
    at,
  });
  for (const event of [
    { type: 'PAYMENT_STARTED', at },
    { type: 'PAYMENT_SUCCEEDED', at, paymentId: `pay_${orderId}` },
  ] as const)
    record = nextRecord(record, event)!;
  return withoutOutboxEvents(record, new Set(record.outbox.map((e) => e.id)));
}

/**
 * The ids of the pre-filled orders, for GETs of random ones: one buffer, not a million strings.
 * The bench is the measuring client, and a million small strings in its heap made its own
 * garbage collections longer. Added as ballast to a run at 10^4 stored orders, they cost the
 * closed-loop POST phase 11% of its throughput (1381 -> 1231/s) and raised paced GET p99 from
 * 13 to 26 ms: about what had been measured as growth at 10^6.
 */
export class StoredOrderIds {
  private static readonly ID_LENGTH = 22; // a nuid
  private readonly bytes: Buffer;
  size = 0;

  constructor(capacity: number) {
    this.bytes = Buffer.alloc(capacity * StoredOrderIds.ID_LENGTH);
  }

  set(index: number, id: string): void {
    if (id.length !== StoredOrderIds.ID_LENGTH) throw new Error(`not a nuid: ${id}`);
    this.bytes.write(id, index * StoredOrderIds.ID_LENGTH, 'latin1');
    this.size = Math.max(this.size, index + 1);
  }

  random(): string {
    const start = randomInt(this.size) * StoredOrderIds.ID_LENGTH;
    return this.bytes.toString('latin1', start, start + StoredOrderIds.ID_LENGTH);
  }
}

/** Runs `task(i)` for i in [from, to) with at most FILL_IN_FLIGHT running. */
async function pipelined(from: number, to: number, task: (i: number) => Promise<unknown>) {
  let next = from;
  await Promise.all(
    Array.from({ length: FILL_IN_FLIGHT }, async () => {
      while (next < to) await task(next++);
    }),
  );
}

export async function fill(
  stack: BenchStack,
  count: number,
  ids: StoredOrderIds,
  log: (l: string) => void,
) {
  const js = jetstream(stack.nc);
  const orders = await openOrdersBucket(js);
  const idempotency = createIdempotencyStore({
    kv: await openIdempotencyBucket(js),
    leaseMs: 10_000,
    acceptedResponse: async () => undefined, // the entries are written once, never replayed
  });
  const started = performance.now();
  for (let done = ids.size; done < count;) {
    const batch = Math.min(count, done + 50_000);
    await pipelined(done, batch, async (i) => {
      const orderId = nuid.next();
      ids.set(i, orderId);
      await orders.put(orderId, encodeOrderRecord(completedOrder(orderId)));
      await idempotency.claim(
        BENCH_TENANT,
        `prefill-${orderId}`,
        requestFingerprint('POST /orders', { orderId }),
        orderId,
      );
    });
    done = batch;
    log(
      `  filled ${done} of ${count} (${Math.round(done / ((performance.now() - started) / 1000))}/s)`,
    );
  }
}

export async function relayCaughtUp(stack: BenchStack): Promise<void> {
  const jsm = await jetstreamManager(stack.nc);
  for (;;) {
    const info = await jsm.consumers.info(ORDERS_KV_STREAM, OUTBOX_RELAY_CONSUMER);
    if (info.num_pending === 0 && info.num_ack_pending === 0) return;
    await delay(250);
  }
}
