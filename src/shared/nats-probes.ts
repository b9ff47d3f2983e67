/**
 * Scrape-time readings of the NATS side of the flow, registered with the process's metrics:
 * a durable consumer's backlog, and how far the outbox relay lags behind the orders bucket.
 * Each reading is one or two JetStream API requests, cached for a second so that the gauges
 * of one scrape share them; none of them scans anything.
 */
import type { ConsumerInfo, JetStreamManager } from '@nats-io/jetstream';
import type { Metrics } from './metrics.js';
import { ORDERS_BUCKET, ORDERS_KV_STREAM, OUTBOX_RELAY_CONSUMER } from './topology.js';

function cachedConsumerInfo(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): () => Promise<ConsumerInfo> {
  let cached: { at: number; info: Promise<ConsumerInfo> } | undefined;
  return () => {
    if (!cached || Date.now() - cached.at > 1_000) {
      cached = { at: Date.now(), info: jsm.consumers.info(stream, consumer) };
      cached.info.catch(() => (cached = undefined));
    }
    return cached.info;
  };
}

export function probeConsumerBacklog(
  metrics: Metrics,
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): void {
  const info = cachedConsumerInfo(jsm, stream, consumer);
  metrics.probeConsumer(
    consumer,
    async () => (await info()).num_pending,
    async () => (await info()).num_ack_pending,
  );
}

/**
 * Outbox lag: writes to `orders` the relay has not finished, and the oldest one's age; also
 * the `outbox-relay` consumer's backlog, from the same (cached) consumer info.
 */
export function probeOutbox(metrics: Metrics, jsm: JetStreamManager): void {
  const info = cachedConsumerInfo(jsm, ORDERS_KV_STREAM, OUTBOX_RELAY_CONSUMER);
  metrics.probeConsumer(
    OUTBOX_RELAY_CONSUMER,
    async () => (await info()).num_pending,
    async () => (await info()).num_ack_pending,
  );
  metrics.probeOutbox(
    async () => {
      const i = await info();
      return i.num_pending + i.num_ack_pending;
    },
    async () => {
      const i = await info();
      if (i.num_pending + i.num_ack_pending === 0) return 0;
      // The first write above the ack floor is the oldest one not finished.
      // Direct get (the bucket's stream allows it): `next_by_subj` skips revisions since purged.
      const oldest = await jsm.direct.getMessage(ORDERS_KV_STREAM, {
        seq: i.ack_floor.stream_seq + 1,
        next_by_subj: `$KV.${ORDERS_BUCKET}.>`,
      });
      return oldest ? Math.max(0, (Date.now() - oldest.time.getTime()) / 1000) : 0;
    },
  );
}
