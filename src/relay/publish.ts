/**
 * Publishing to a stream through leader elections: on an R3 cluster a stream leader's death
 * stops writes for a few seconds, so a publish is retried with the same `Nats-Msg-Id` (the
 * broker keeps one copy) until it is acknowledged or the deadline passes.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { JetStreamClient, JetStreamPublishOptions, PubAck } from '@nats-io/jetstream';

export async function publishWithRetry(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  opts: Partial<JetStreamPublishOptions> & { msgID: string },
  deadlineMs = 30_000,
): Promise<PubAck> {
  const deadline = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await js.publish(subject, data, { timeout: 5_000, ...opts });
    } catch (err) {
      if (Date.now() + 100 > deadline) throw err;
      await delay(Math.min(100 * 2 ** (attempt - 1), 2_000));
    }
  }
}
