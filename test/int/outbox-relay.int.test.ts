/**
 * The outbox relay alone, on a real server: it publishes each write's own events, looks up the
 * events a write carries from earlier writes and publishes only those ORDERS does not hold, and
 * never writes to the bucket. ORDERS' duplicate window is cut to 1 s here, so the broker's dedup
 * cannot hide a second publish of a carried event; the test also watches what the relay sends.
 * Then the invariant checker must report an unpublished event and an event stored twice.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialRecord, nextRecord, type OrderEvent } from '../../src/actors/index.js';
import { provisionTopology } from '../../src/components.js';
import { createOutboxRelay } from '../../src/relay/index.js';
import {
  ORDERS_KV_STREAM,
  ORDERS_STREAM,
  checkInvariants,
  createRootLogger,
  encodeOrderRecord,
  eventSubject,
  openOrdersBucket,
  type OrderRecord,
} from '../../src/shared/index.js';
import { orderInput } from '../fixtures/order-input.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import { waitFor } from '../fixtures/wait.js';

const DUPLICATE_WINDOW_NS = 1_000_000_000;
let nats: NatsFixture;
let nc: NatsConnection;
let relay: ReturnType<typeof createOutboxRelay>;
/** What the relay published, write by write: the `events` of its debug lines, per order. */
const sent = new Map<string, string[][]>();

beforeAll(async () => {
  nats = await startNats();
  nc = await nats.connect();
  await provisionTopology(nc, nats.config());
  const jsm = await jetstreamManager(nc);
  const orders = await jsm.streams.info(ORDERS_STREAM);
  await jsm.streams.update(ORDERS_STREAM, {
    ...orders.config,
    duplicate_window: DUPLICATE_WINDOW_NS,
  });
  const lines = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { msg: string; orderId?: string; events?: string[] };
        if (entry.msg === 'outbox events published' && entry.orderId)
          sent.set(entry.orderId, [...(sent.get(entry.orderId) ?? []), entry.events ?? []]);
      }
      done();
    },
  });
  relay = createOutboxRelay({
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    log: createRootLogger('debug', lines),
  });
  await relay.start();
});
afterAll(async () => {
  await relay?.stop();
  await nats?.stop();
});

async function eventCounts(orderId: string): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(ORDERS_STREAM, { subjects_filter: `*.*.*.${orderId}` });
  return state.subjects ?? {};
}

async function relayCaughtUp(): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await waitFor('relay caught up', async () => {
    const info = await jsm.consumers.info(ORDERS_KV_STREAM, 'outbox-relay');
    return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
  });
}

describe('outbox relay', () => {
  it('publishes a carried event only when ORDERS does not hold it, and never writes', async () => {
    const kv = await openOrdersBucket(jetstream(nc));
    // Order a: created, published, then cancelled. The CANCELLED write carries the created
    // event on; the relay finds it in ORDERS and sends only the cancelled event.
    const created = initialRecord({ ...orderInput, orderId: 'a' });
    const revision = await kv.create('a', encodeOrderRecord(created));
    await waitFor('created of a sent', async () => (sent.get('a')?.length ? true : undefined));
    await delay(1_200); // past the duplicate window
    const cancelled = nextRecord(created, { type: 'CANCEL', at: '2026-01-01T00:00:01.000Z' })!;
    expect(cancelled.outbox.map((e) => e.type)).toEqual(['created', 'cancelled']);
    await kv.update('a', encodeOrderRecord(cancelled), revision);
    await relayCaughtUp();
    expect(sent.get('a')).toEqual([['created'], ['cancelled']]);
    expect(await eventCounts('a')).toEqual({
      [eventSubject('created', 'a')]: 1,
      [eventSubject('cancelled', 'a')]: 1,
    });

    // Order b: its first stored write already carries a created event that was never published
    // (as when the write that emitted it left the bucket's history unread): the relay sends it.
    const orphan = nextRecord(initialRecord({ ...orderInput, orderId: 'b' }), {
      type: 'CANCEL',
      at: '2026-01-01T00:00:01.000Z',
    })!;
    await kv.create('b', encodeOrderRecord(orphan));
    await relayCaughtUp();
    expect(sent.get('b')).toEqual([['created', 'cancelled']]);
    expect(await eventCounts('b')).toEqual({
      [eventSubject('created', 'b')]: 1,
      [eventSubject('cancelled', 'b')]: 1,
    });

    // The relay's handling wrote nothing: each order's revision is still the last test write.
    expect((await kv.get('a'))!.revision).toBe(revision + 1);
    expect((await kv.get('b'))!.revision).toBe(revision + 2);
  });

  it('finds a carried event that is no longer the last on its subject, and does not publish it again', async () => {
    const kv = await openOrdersBucket(jetstream(nc));
    const error = { code: 'PAYMENT_HTTP_402', message: 'declined' };
    let at = 0;
    const next = (record: OrderRecord, event: Record<string, unknown>, published?: Set<string>) =>
      nextRecord(
        record,
        { ...event, at: new Date(Date.UTC(2026, 0, 1, 0, 0, ++at)).toISOString() } as OrderEvent,
        published,
      )!;
    let record = initialRecord({ ...orderInput, orderId: 'd' });
    let revision = await kv.create('d', encodeOrderRecord(record));
    const write = async (nextOne: OrderRecord) => {
      revision = await kv.update('d', encodeOrderRecord(nextOne), revision);
      record = nextOne;
      await relayCaughtUp();
    };
    // Two generations dead-lettered, each redrive carrying the earlier dead_lettered events on
    // (as a redrive that could not look them up would): the second one leaves the first
    // generation's event behind a newer one on the same subject.
    for (let generation = 0; generation < 2; generation++) {
      const created = record.outbox.find((e) => e.type === 'created')!;
      await write(next(record, { type: 'PAYMENT_STARTED' }, new Set([created.id])));
      await write(next(record, { type: 'PAYMENT_FAILED_PERMANENT', error }));
      await delay(1_200); // past the duplicate window: only the lookup can stop a second copy
      await write(next(record, { type: 'REDRIVE' }));
    }
    expect(record.outbox.map((e) => e.type)).toEqual(['dead_lettered', 'dead_lettered', 'created']);
    expect(sent.get('d')!.at(-1)).toEqual(['created']);
    expect(await eventCounts('d')).toEqual({
      [eventSubject('created', 'd')]: 3,
      [eventSubject('dead_lettered', 'd')]: 2,
    });
  });

  it('leaves what the invariant checker reports: an event never published, one stored twice', async () => {
    await relay.stop();
    const kv = await openOrdersBucket(jetstream(nc));
    const now = new Date().toISOString();
    await kv.create(
      'c',
      encodeOrderRecord(initialRecord({ ...orderInput, orderId: 'c', at: now })),
    );
    // The created event of a, published again after the window: the broker keeps both.
    const js = jetstream(nc);
    const first = initialRecord({ ...orderInput, orderId: 'a' }).outbox[0]!;
    await js.publish(first.subject, JSON.stringify(first.data), { msgID: first.id });
    const report = await checkInvariants({ js, charges: new Map() });
    expect(report.violations.unpublishedEvents).toEqual(['c']);
    expect(report.violations.eventsPublishedTwice).toEqual(['a']);
  });
});
