import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import { postOrder, sampleOrder } from '../fixtures/orders-client.js';
import { expectInvariantsHold } from '../fixtures/invariants.js';
import { startStack, type Stack } from '../fixtures/stack.js';

const ORDERS = 500;

describe.each([1, 3] as const)('two workers and two relays on 500 orders, %i node(s)', (size) => {
  let nats: NatsFixture;
  let stack: Stack;

  beforeAll(async () => {
    nats = await startNats({ size });
    stack = await startStack(nats, { workers: 2, relays: 2, faults: { latencyMs: 2 } });
  });
  afterAll(async () => {
    await stack?.stop();
    await nats?.stop();
  });

  it('completes every order with exactly one charge and histories that only move forward', async () => {
    const orderIds: string[] = [];
    // 25 clients at a time: enough overlap for the components to race each other.
    for (let batch = 0; batch < ORDERS / 25; batch++) {
      const responses = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          postOrder(stack.gatewayUrl, `scale-${batch}-${i}`, sampleOrder(`c-${batch}-${i}`)),
        ),
      );
      for (const r of responses) {
        expect(r.status).toBe(202);
        orderIds.push(r.body.orderId);
      }
    }
    expect(new Set(orderIds).size).toBe(ORDERS);

    const nc = await nats.connect();
    // Every order terminal, one charge each, histories only forward, every event published once.
    const { report } = await expectInvariantsHold(nc, stack.stub, orderIds);
    expect(report.orders).toBe(ORDERS);
    expect(report.attention.chargedNotCompleted).toEqual([]);
    const ledger = stack.stub.ledger.snapshot();
    expect(ledger.totals.keys).toBe(ORDERS);
    expect(ledger.totals.charges).toBe(ORDERS);
    expect(orderIds.every((id) => ledger.keys[id]?.charges === 1)).toBe(true);
    // The work really was shared: both workers and both relays handled messages.
    for (const name of ['worker', 'relay'] as const) {
      const handled = stack.components.filter((c) => c.name === name).map((c) => c.handled!());
      expect(handled).toHaveLength(2);
      expect(handled.every((n) => n > 0)).toBe(true);
      if (name === 'worker')
        expect(handled.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(ORDERS);
    }
  });
});
