/**
 * A clean stop (SIGTERM runs the same `stop()`) stops taking work, finishes what it took, and
 * drains: nothing it received is redelivered. Measured on the consumer: every delivery beyond
 * one per message is a redelivery.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import {
  ORDERS_KV_STREAM,
  ORDERS_STREAM,
  OUTBOX_RELAY_CONSUMER,
  WORKER_CONSUMER,
} from '../../src/shared/index.js';
import { submitOrder, waitForStatus } from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

const ctx = useStack({ stack: { workers: 0, faults: { latencyMs: 20 } } });

describe('graceful shutdown', () => {
  it('a worker and a relay stopped under load leave nothing to be redelivered', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 200; i++)
      ids.push(await submitOrder(ctx.stack.gatewayUrl, `graceful-${i}`));
    const first = await ctx.stack.add('worker');
    await waitFor('first worker busy', () => (first.handled!() >= 40 ? true : undefined));
    const relay = ctx.stack.components.find((c) => c.name === 'relay')!;
    await Promise.all([first.stop(), relay.stop()]);
    for (const stopped of [first, relay])
      ctx.stack.components.splice(ctx.stack.components.indexOf(stopped), 1);
    const handledByFirst = first.handled!();
    expect(handledByFirst).toBeLessThan(200);

    await ctx.stack.add('relay');
    await ctx.stack.add('worker');
    for (const id of ids) await waitForStatus(ctx.stack.gatewayUrl, id, 'COMPLETED');
    const jsm = await jetstreamManager(ctx.nc);
    const info = await jsm.consumers.info(ORDERS_STREAM, WORKER_CONSUMER);
    // One delivery per created event: no redelivery was caused by the stop.
    expect(info.delivered.consumer_seq).toBe(200);
    expect(info.num_redelivered).toBe(0);
    // The relays saw every revision of the orders bucket exactly once.
    const relayInfo = await waitFor('relay caught up', async () => {
      const r = await jsm.consumers.info(ORDERS_KV_STREAM, OUTBOX_RELAY_CONSUMER);
      return r.num_pending === 0 && r.num_ack_pending === 0 ? r : undefined;
    });
    const kvLastSeq = (await jsm.streams.info(ORDERS_KV_STREAM)).state.last_seq;
    expect(relayInfo.num_redelivered).toBe(0);
    expect(relayInfo.delivered.stream_seq).toBe(kvLastSeq);
    expect(relayInfo.delivered.consumer_seq).toBe(relayInfo.delivered.stream_seq);
    for (const id of ids)
      expect(ctx.stack.stub.ledger.get(id)).toMatchObject({ charges: 1, calls: 1 });
  });
});
