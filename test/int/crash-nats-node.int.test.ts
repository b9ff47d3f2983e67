/**
 * Issue 4, case 5: a NATS node SIGKILLed in a 3-node cluster with REPLICAS=3 while orders
 * flow: first the leader of ORDERS, then (after it is back) the leader of the orders bucket.
 * Components reconnect, writes and publishes are retried with the same ids, and clients retry
 * with the same key: no accepted order is lost and none is duplicated.
 */
import { describe, expect, it } from 'vitest';
import { ORDERS_KV_STREAM, ORDERS_STREAM } from '../../src/shared/index.js';
import { CRASH_TEST_SETTINGS, killLeaderOf, submitPaced } from '../fixtures/crash-run.js';
import { expectInvariantsHold } from '../fixtures/invariants.js';
import { useStack } from '../fixtures/stack.js';

const ctx = useStack({
  size: 3,
  stack: {
    gateways: 2,
    workers: 2,
    relays: 2,
    env: { ...CRASH_TEST_SETTINGS },
    faults: { latencyMs: 5 },
  },
});

describe('a NATS node killed in a 3-node cluster', () => {
  it('loses and duplicates none of 100 orders when stream leaders die', async () => {
    const submitting = submitPaced({
      gatewayUrls: () =>
        ctx.stack.components.filter((c) => c.name === 'gateway').map((c) => c.url!),
      prefix: 'node-crash',
      count: 100,
      everyMs: 400,
    });
    await new Promise((r) => setTimeout(r, 300));
    const killed = [await killLeaderOf(ctx.nats, ctx.nc, ORDERS_STREAM, 1_500)];
    killed.push(await killLeaderOf(ctx.nats, ctx.nc, ORDERS_KV_STREAM, 1_500));
    const { ids } = await submitting;

    expect(new Set(ids).size).toBe(100);
    const { report, settledMs } = await expectInvariantsHold(ctx.nc, ctx.stack.stub, ids);
    expect(report.orders).toBe(100);
    expect(report.attention.chargedNotCompleted).toEqual([]);
    for (const id of ids) expect(ctx.stack.stub.ledger.get(id)!.charges).toBe(1);
    process.stdout.write(
      `killed ${killed.join(' then ')}; all settled ${settledMs} ms after the last accept\n`,
    );
  });
});
