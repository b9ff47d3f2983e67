/**
 * Reads what a stream holds now, once, in order, through an ordered consumer (no durable
 * state left behind). For operator tools and audits (dead-letter listing, history checks);
 * no hot path reads a whole stream.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';

export async function* readStream(
  js: JetStreamClient,
  stream: string,
  opts: { filterSubject?: string } = {},
): AsyncGenerator<JsMsg> {
  const consumer = await js.consumers.get(
    stream,
    opts.filterSubject ? { filter_subjects: [opts.filterSubject] } : {},
  );
  // What is pending when the read starts is what the read returns: writes after it are not waited for.
  if ((await consumer.info()).num_pending === 0) return;
  const messages = await consumer.consume();
  try {
    for await (const msg of messages as AsyncIterable<JsMsg>) {
      yield msg;
      if (msg.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
}
