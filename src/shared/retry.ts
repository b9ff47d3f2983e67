/**
 * Retrying a start-up step while JetStream is not ready yet: a cluster that just started or
 * just lost a node answers API requests with timeouts or "no responders" until its leaders are
 * elected. A process that gave up at once would need its supervisor to restart it; retrying
 * for a while (with backoff, logged) rides through the election instead. Anything else, such
 * as an incompatible stream, fails at once.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import type { Logger } from './logger.js';

export function isJetStreamNotReady(err: unknown): boolean {
  return (
    err instanceof TimeoutError ||
    err instanceof NoRespondersError ||
    (err instanceof RequestError && err.isNoResponders())
  );
}

export async function retryWhileNotReady<T>(
  what: string,
  step: () => Promise<T>,
  opts: { log?: Logger; deadlineMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.deadlineMs ?? 60_000);
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!isJetStreamNotReady(err) || Date.now() >= deadline) throw err;
      opts.log?.warn({ err, attempt }, `${what}: JetStream not ready; retrying`);
      await delay(Math.min(250 * attempt, 2_000));
    }
  }
}
