import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startComponent } from '../../src/components.js';
import {
  ORDERS_KV_STREAM,
  ORDERS_STREAM,
  OUTBOX_RELAY_CONSUMER,
  WORKER_CONSUMER,
  createRootLogger,
  decodeOrderRecord,
  openOrdersBucket,
} from '../../src/shared/index.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import { getOrder, postOrder, sampleOrder } from '../fixtures/orders-client.js';
import { startStack, type Stack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

let nats: NatsFixture;
let stack: Stack;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  // No relay at first: orders wait in their outbox until one starts.
  stack = await startStack(nats, { relays: 0 });
  nc = await nats.connect();
});
afterAll(async () => {
  await stack?.stop();
  await nats?.stop();
});

const status = async (orderId: string) =>
  (await getOrder(stack.gatewayUrl, orderId)).body.status as string;

describe('outbox relay', () => {
  it('publishes everything still pending when it starts late, then keeps up', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++)
      ids.push(
        (await postOrder(stack.gatewayUrl, `late-${i}`, sampleOrder(`late-${i}`))).body.orderId,
      );
    const kv = await openOrdersBucket(jetstream(nc));
    for (const id of ids) {
      const record = decodeOrderRecord((await kv.get(id))!.value)!;
      expect(record.status).toBe('CREATED');
      expect(record.outbox.map((e) => e.subject)).toEqual([`orders.events.created.${id}`]);
    }
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(ORDERS_STREAM)).state.messages).toBe(0);

    const relay = await startComponent('relay', {
      config: stack.config,
      log: createRootLogger('silent'),
      provision: false,
    });
    stack.components.push(relay);
    await waitFor('20 late orders COMPLETED', async () =>
      (await Promise.all(ids.map(status))).every((s) => s === 'COMPLETED') ? true : undefined,
    );
    for (const id of ids) {
      expect(stack.stub.ledger.get(id)?.charges).toBe(1);
      // The relay never writes: the worker dropped the created event it consumed, and the
      // final write keeps its own (published) completed event.
      const { outbox } = decodeOrderRecord((await kv.get(id))!.value)!;
      expect(outbox.map((e) => e.subject)).toEqual([`orders.events.completed.${id}`]);
    }
    // created + completed per order, each published once whatever the relay retried.
    expect((await jsm.streams.info(ORDERS_STREAM)).state.messages).toBe(40);
  });

  it('restarts where it left off: nothing to re-read however many orders are stored', async () => {
    const jsm = await jetstreamManager(nc);
    await waitFor('relay caught up', async () => {
      const info = await jsm.consumers.info(ORDERS_KV_STREAM, OUTBOX_RELAY_CONSUMER);
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    });
    const relay = stack.components.find((c) => c.name === 'relay')!;
    await relay.stop();
    stack.components.splice(stack.components.indexOf(relay), 1);
    const stored = (await jsm.streams.info(ORDERS_KV_STREAM)).state.messages;
    expect(stored).toBeGreaterThan(0);
    // A new relay starts from the durable consumer's position, not from the first order.
    const info = await jsm.consumers.info(ORDERS_KV_STREAM, OUTBOX_RELAY_CONSUMER);
    expect(info.num_pending).toBe(0);
    const restarted = await startComponent('relay', {
      config: stack.config,
      log: createRootLogger('silent'),
      provision: false,
    });
    stack.components.push(restarted);
    const id = (await postOrder(stack.gatewayUrl, 'after-restart')).body.orderId as string;
    await waitFor('order after restart COMPLETED', async () =>
      (await status(id)) === 'COMPLETED' ? true : undefined,
    );
    // It handled only the new order's writes (CREATED, PROCESSING, COMPLETED), none earlier.
    expect(restarted.handled!()).toBeLessThanOrEqual(3);
  });
});

describe('worker', () => {
  it('acks a redelivered event of a completed order without a second payment call', async () => {
    const id = (await postOrder(stack.gatewayUrl, 'redeliver-1')).body.orderId as string;
    await waitFor('COMPLETED', async () => ((await status(id)) === 'COMPLETED' ? true : undefined));
    const before = (await getOrder(stack.gatewayUrl, id)).body;
    expect(stack.stub.ledger.get(id)).toMatchObject({ charges: 1, calls: 1 });

    // The same event again, as after a relay crash past the duplicate window.
    const js = jetstream(nc);
    const ack = await js.publish(`orders.events.created.${id}`, JSON.stringify({ orderId: id }), {
      msgID: `replay-${id}`,
    });
    const jsm = await jetstreamManager(nc);
    await waitFor('the repeated event acknowledged', async () => {
      const info = await jsm.consumers.info(ORDERS_STREAM, WORKER_CONSUMER);
      return info.ack_floor.stream_seq >= ack.seq && info.num_ack_pending === 0 ? true : undefined;
    });
    expect(stack.stub.ledger.get(id)).toMatchObject({ charges: 1, calls: 1 });
    expect((await getOrder(stack.gatewayUrl, id)).body).toEqual(before);
  });
});
