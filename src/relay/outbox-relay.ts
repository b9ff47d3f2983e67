/**
 * The outbox relay: follows every write to the `orders` bucket through its own durable
 * consumer on the bucket's stream, publishes the write's pending outbox events to ORDERS with
 * `Nats-Msg-Id` = event id (the broker drops repeats within the duplicate window), then
 * removes them from the record by compare-and-set. The durable consumer remembers where the
 * relay got to, so a relay that starts late reads only what it has not handled: start-up does
 * not grow with the number of stored orders. Any number of relays can share the consumer.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import {
  ORDERS_BUCKET,
  ORDERS_KV_STREAM,
  OUTBOX_RELAY_CONSUMER,
  decodeOrderRecord,
  encodeOrderRecord,
  isKvConflict,
  noCrashPoints,
  pauseAfterConflict,
  startConsumeLoop,
  traceIdOf,
  withoutOutboxEvents,
  type ConsumeLoop,
  type CrashPoint,
  type Logger,
  type OrderRecord,
  type OutboxEvent,
} from '../shared/index.js';
import { publishWithRetry } from './publish.js';

export interface OutboxRelayDeps {
  js: JetStreamClient;
  ordersKv: KV;
  log: Logger;
  concurrency?: number;
  crashPoint?: CrashPoint;
}

const KEY_PREFIX = `$KV.${ORDERS_BUCKET}.`;
const MAX_CLEAR_ATTEMPTS = 20;

interface StoredRecord {
  record: OrderRecord;
  revision: number;
}
const encoder = new TextEncoder();

export function createOutboxRelay(deps: OutboxRelayDeps) {
  const { js, ordersKv } = deps;
  const crashPoint = deps.crashPoint ?? noCrashPoints;
  const log = deps.log.child({ component: 'relay' });
  let loop: ConsumeLoop | undefined;

  function publishEvent(event: OutboxEvent): Promise<unknown> {
    const h = natsHeaders();
    h.set('Correlation-Id', event.data.correlationId);
    if (event.traceparent) h.set('traceparent', event.traceparent);
    // msgID becomes the Nats-Msg-Id header: the broker keeps one copy per event id.
    return publishWithRetry(js, event.subject, encoder.encode(JSON.stringify(event.data)), {
      msgID: event.id,
      headers: h,
    });
  }

  async function readRecord(orderId: string): Promise<StoredRecord | undefined> {
    const entry = await ordersKv.get(orderId);
    const record = entry?.operation === 'PUT' ? decodeOrderRecord(entry.value) : undefined;
    return entry && record ? { record, revision: entry.revision } : undefined;
  }

  /** Removes the published events from the current record, whatever was written since. */
  async function clearPublished(
    orderId: string,
    seen: StoredRecord,
    published: ReadonlySet<string>,
  ): Promise<void> {
    let current: StoredRecord | undefined = seen;
    for (let attempt = 0; current && attempt < MAX_CLEAR_ATTEMPTS; attempt++) {
      if (!current.record.outbox.some((e) => published.has(e.id))) return;
      try {
        await ordersKv.update(
          orderId,
          encodeOrderRecord(withoutOutboxEvents(current.record, published)),
          current.revision,
        );
        return;
      } catch (err) {
        if (!isKvConflict(err)) throw err;
      }
      // Another writer (a worker, another relay) got there first: clear on top of its write.
      await pauseAfterConflict(attempt);
      current = await readRecord(orderId);
    }
    if (current)
      throw new Error(
        `order ${orderId}: outbox still contended after ${MAX_CLEAR_ATTEMPTS} attempts`,
      );
  }

  async function handle(msg: JsMsg): Promise<void> {
    const orderId = msg.subject.slice(KEY_PREFIX.length);
    const record = decodeOrderRecord(msg.data);
    if (!record || record.outbox.length === 0) {
      msg.ack();
      return;
    }
    try {
      await Promise.all(record.outbox.map(publishEvent));
      log.debug(
        {
          orderId,
          correlationId: record.context.correlationId,
          traceId: traceIdOf(record.context.traceparent),
          events: record.outbox.map((e) => e.type),
        },
        'outbox events published',
      );
      crashPoint('relay.after-publish');
      // A KV revision is the stream sequence of the write.
      await clearPublished(
        orderId,
        { record, revision: msg.seq },
        new Set(record.outbox.map((e) => e.id)),
      );
      msg.ack();
    } catch (err) {
      // Published events repeat harmlessly (dedup, then the actor's state); just try again soon.
      log.warn({ err, orderId, seq: msg.seq }, 'outbox relay failed; will retry');
      msg.nak(1_000);
    }
  }

  return {
    async start(): Promise<void> {
      const consumer = await js.consumers.get(ORDERS_KV_STREAM, OUTBOX_RELAY_CONSUMER);
      loop = await startConsumeLoop({ consumer, concurrency: deps.concurrency ?? 64, handle, log });
      log.info('outbox relay consuming');
    },
    async stop(): Promise<void> {
      await loop?.stop();
      loop = undefined;
    },
    /** Messages handled since start. */
    handled: (): number => loop?.handled() ?? 0,
  };
}
