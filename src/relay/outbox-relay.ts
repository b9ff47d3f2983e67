/**
 * The outbox relay: follows every write to the `orders` bucket through its own durable
 * consumer on the bucket's stream and publishes the write's outbox events to ORDERS with
 * `Nats-Msg-Id` = event id (the broker drops repeats within the duplicate window), then acks.
 * The durable consumer remembers where the relay got to, so a relay that starts late reads
 * only what it has not handled: start-up does not grow with the number of stored orders. Any
 * number of relays can share the consumer.
 *
 * The relay never writes to the bucket. Its consumer's progress is the record of what it has
 * published; it used to clear each write's events by compare-and-set, two extra writes per
 * order (each also delivered back to the relay). Instead a write carries earlier events on
 * only until a writer knows they are published: the worker drops the created event it
 * consumed. A carried event (after a cancel, a dead-letter or a redrive) is looked up in ORDERS
 * first and published only if it is not there, so it never lands twice even after the duplicate
 * window; the events a write emitted itself are published as they are (repeats within the
 * window are dropped by the broker).
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import {
  ORDERS_BUCKET,
  ORDERS_KV_STREAM,
  OUTBOX_RELAY_CONSUMER,
  createEventLookup,
  decodeOrderRecord,
  emittedByThisWrite,
  noCrashPoints,
  startConsumeLoop,
  traceIdOf,
  type ConsumeLoop,
  type CrashPoint,
  type Logger,
  type OrderRecord,
  type OutboxEvent,
} from '../shared/index.js';
import { publishWithRetry } from './publish.js';

export interface OutboxRelayDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  concurrency?: number;
  crashPoint?: CrashPoint;
}

const KEY_PREFIX = `$KV.${ORDERS_BUCKET}.`;
const encoder = new TextEncoder();

export function createOutboxRelay(deps: OutboxRelayDeps) {
  const { js, jsm } = deps;
  const crashPoint = deps.crashPoint ?? noCrashPoints;
  const log = deps.log.child({ component: 'relay' });
  const lookup = createEventLookup(jsm);
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

  /**
   * The events to publish for a write: its own, and the carried ones not in ORDERS yet. A write
   * handled again (a relay died after publishing, or a publish failed) has all its events
   * looked up, as a retry may come after the duplicate window.
   */
  async function toPublish(record: OrderRecord, again: boolean): Promise<OutboxEvent[]> {
    const trusted = again ? [] : record.outbox.filter((e) => emittedByThisWrite(record, e));
    if (trusted.length === record.outbox.length) return trusted;
    const checked = record.outbox.filter((e) => !trusted.includes(e));
    const held = await lookup.heldAmong(checked);
    return [...checked.filter((e) => !held.has(e.id)), ...trusted];
  }

  async function handle(msg: JsMsg): Promise<void> {
    const orderId = msg.subject.slice(KEY_PREFIX.length);
    const record = decodeOrderRecord(msg.data);
    if (!record || record.outbox.length === 0) {
      msg.ack();
      return;
    }
    try {
      const events = await toPublish(record, msg.redelivered);
      await Promise.all(events.map(publishEvent));
      log.debug(
        {
          orderId,
          correlationId: record.context.correlationId,
          traceId: traceIdOf(record.context.traceparent),
          events: events.map((e) => e.type),
        },
        'outbox events published',
      );
      crashPoint('relay.after-publish');
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
