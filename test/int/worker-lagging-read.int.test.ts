/**
 * A created event whose order a read does not show yet (a replica or new leader behind the
 * write: seen in the bench on R3 with sync_interval: always) is retried after the backoff,
 * not dead-lettered: the order completes with one charge. A second miss is permanent (the
 * poison-event test in failure-path covers that side).
 */
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActorStore, createPaymentClient, createWorker } from '../../src/actors/index.js';
import { createRootLogger, openOrdersBucket } from '../../src/shared/index.js';
import { dlqCount } from '../fixtures/dlq.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import { submitOrder, waitForStatus } from '../fixtures/orders-client.js';
import { startStack, type Stack } from '../fixtures/stack.js';

let nats: NatsFixture;
let stack: Stack;

beforeAll(async () => {
  nats = await startNats();
  // No worker in the stack: the test runs its own, with a store that lags once per order.
  stack = await startStack(nats, { workers: 0 });
});
afterAll(async () => {
  await stack?.stop();
  await nats?.stop();
});

describe('a worker whose first read of an order comes back empty', () => {
  it('retries after the backoff and completes the order once', async () => {
    const nc = await nats.connect('lagging-worker');
    const js = jetstream(nc);
    const store = createActorStore({ kv: await openOrdersBucket(js) });
    const missedOnce = new Set<string>();
    const laggingStore: typeof store = {
      ...store,
      update: (orderId, ...rest) => {
        if (missedOnce.has(orderId)) return store.update(orderId, ...rest);
        missedOnce.add(orderId);
        return Promise.resolve({ kind: 'missing' });
      },
    };
    const payments = createPaymentClient({ baseUrl: stack.config.paymentUrl!, timeoutMs: 5_000 });
    const worker = createWorker({
      js,
      store: laggingStore,
      payments,
      log: createRootLogger('silent'),
      config: stack.config,
    });
    await worker.start();
    try {
      const orderId = await submitOrder(stack.gatewayUrl, 'lagging-read');
      const order = await waitForStatus(stack.gatewayUrl, orderId, 'COMPLETED');
      expect(missedOnce.has(orderId)).toBe(true);
      expect(order.history.map((h: { status: string }) => h.status)).toEqual([
        'CREATED',
        'PROCESSING',
        'COMPLETED',
      ]);
      expect(stack.stub.ledger.get(orderId)).toMatchObject({ charges: 1, calls: 1 });
      expect(await dlqCount(nc)).toBe(0);
    } finally {
      await worker.stop();
      await payments.close();
    }
  });
});
