/**
 * The one place where an error decides a JetStream outcome:
 *   no error -> ack; RetryableError (or an unknown error: infrastructure) -> nak(delay);
 *   TerminalError -> term(reason), which the server turns into a MSG_TERMINATED advisory.
 * Never a bare nak(): it redelivers at once and burns the delivery budget in milliseconds.
 */
import type { JsMsg } from '@nats-io/jetstream';
import {
  RetryableError,
  TerminalError,
  errorMessage,
  type Logger,
  type Metrics,
} from '../shared/index.js';

export type Disposition =
  | { kind: 'ack' }
  | { kind: 'nak'; delayMs: number; nakMs: number; code: string }
  | { kind: 'term'; reason: string; code: string };

/**
 * The delay before attempt `attempt + 1`: the consumer's BACKOFF step for this attempt, with
 * +-20% jitter so that orders failing together do not retry together, and never shorter than
 * the service's Retry-After.
 */
export function retryDelayMs(
  attempt: number,
  backoffMs: readonly number[],
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const base = backoffMs[Math.min(Math.max(attempt, 1), backoffMs.length) - 1] ?? 1_000;
  const jittered = Math.round(base * (0.8 + 0.4 * random()));
  return Math.max(jittered, retryAfterMs ?? 0);
}

/**
 * What to pass to `nak()` so that the redelivery comes after `desiredMs`. Measured on
 * nats-server 2.12.15: on a consumer with `backoff`, a nak(d) on delivery n redelivers after
 * d - backoff[0] + backoff[n-1] (the server keeps ack_wait = backoff[0] and re-applies the
 * delivery's backoff step). Never below 1 ms: a bare nak() would redeliver at once.
 */
export function nakDelayFor(
  desiredMs: number,
  deliveryCount: number,
  backoffMs: readonly number[],
): number {
  const first = backoffMs[0] ?? 0;
  const step = backoffMs[Math.min(Math.max(deliveryCount, 1), backoffMs.length) - 1] ?? first;
  return Math.max(1, Math.round(desiredMs - (step - first)));
}

export function dispositionFor(
  err: unknown,
  attempt: number,
  backoffMs: readonly number[],
): Disposition {
  if (err instanceof TerminalError) {
    return { kind: 'term', reason: `${err.code}: ${err.message}`.slice(0, 200), code: err.code };
  }
  const retryAfterMs = err instanceof RetryableError ? err.retryAfterMs : undefined;
  const code = err instanceof RetryableError ? err.code : 'INTERNAL';
  const delayMs = retryDelayMs(attempt, backoffMs, retryAfterMs);
  return { kind: 'nak', delayMs, nakMs: nakDelayFor(delayMs, attempt, backoffMs), code };
}

export function settle(
  msg: JsMsg,
  disposition: Disposition,
  log: Logger,
  err?: unknown,
  metrics?: Metrics,
): void {
  metrics?.workerMessages.inc({ outcome: disposition.kind });
  if (disposition.kind === 'nak') metrics?.retriesScheduled.inc({ code: disposition.code });
  switch (disposition.kind) {
    case 'ack':
      msg.ack();
      return;
    case 'nak':
      log.warn(
        { code: disposition.code, nextDelayMs: disposition.delayMs, err: errorMessage(err) },
        'attempt failed; retry scheduled',
      );
      msg.nak(disposition.nakMs);
      return;
    case 'term':
      log.error(
        { code: disposition.code, err: errorMessage(err) },
        'order failed permanently; terminating its event',
      );
      msg.term(disposition.reason);
      return;
  }
}
