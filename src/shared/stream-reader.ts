/**
 * Reads what a stream holds now, once, in order, through an ordered consumer (no durable
 * state left behind). For operator tools and audits (dead-letter listing, history checks);
 * no hot path reads a whole stream.
 */
import { DeliverPolicy, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';

export async function* readStream(
  js: JetStreamClient,
  stream: string,
  /** `afterSeq`: read only messages with a higher sequence (to go on where a paged read stopped). */
  opts: { filterSubject?: string; afterSeq?: number } = {},
): AsyncGenerator<JsMsg> {
  const consumer = await js.consumers.get(stream, {
    ...(opts.filterSubject ? { filter_subjects: [opts.filterSubject] } : {}),
    ...(opts.afterSeq
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.afterSeq + 1 }
      : {}),
  });
  // What is pending when the read starts is what the read returns: writes after it are neither
  // waited for nor read. A caller that writes to the stream while it reads (a dead-letter redrive
  // whose order dies again) so cannot chase its own writes.
  const pendingAtStart = (await consumer.info()).num_pending;
  if (pendingAtStart === 0) return;
  const messages = await consumer.consume();
  let read = 0;
  try {
    for await (const msg of messages as AsyncIterable<JsMsg>) {
      yield msg;
      if (++read === pendingAtStart || msg.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
}
