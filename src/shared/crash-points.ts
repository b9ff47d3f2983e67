/**
 * Deterministic crash points, for fault tests and fault campaigns: `CRASH_POINT=<name>` makes
 * the process kill itself (SIGKILL: no cleanup, no ack, no drain) the `CRASH_AFTER`-th time it
 * reaches that point, or freeze (`CRASH_SIGNAL=SIGSTOP`, resumed by SIGCONT) to play a slow
 * worker. Read once at start with the rest of the configuration; with no CRASH_POINT every
 * point is a no-op.
 */

/** The named moments between a durable write and the next, where a crash hurts most. */
export const CRASH_POINTS = [
  /** PROCESSING persisted, payment not called yet. */
  'worker.after-processing',
  /** The payment service charged; COMPLETED not persisted yet. */
  'worker.after-payment',
  /** COMPLETED persisted; the event not acked yet. */
  'worker.after-completed',
  /** A write's outbox events published; the write not acked yet. */
  'relay.after-publish',
  /** Idempotency key claimed; the order not created yet. */
  'gateway.after-claim',
  /** Order created; the client not answered yet. */
  'gateway.after-create',
  /** Dead letter published; the advisory not acked yet. */
  'dead-letter.after-publish',
] as const;
export type CrashPointName = (typeof CRASH_POINTS)[number];

export const CRASH_SIGNALS = ['SIGKILL', 'SIGSTOP'] as const;

export interface CrashSettings {
  point: CrashPointName;
  /** Crash the n-th time the point is reached (1 = the first). */
  after: number;
  signal: (typeof CRASH_SIGNALS)[number];
}

/** Call at a named point; returns only if the process is not to crash there (or was resumed). */
export type CrashPoint = (name: CrashPointName) => void;

export const noCrashPoints: CrashPoint = () => undefined;

export function createCrashPoint(settings: CrashSettings | undefined): CrashPoint {
  if (!settings) return noCrashPoints;
  let reached = 0;
  return (name) => {
    if (name !== settings.point || ++reached !== settings.after) return;
    // Synchronous: a SIGKILL leaves no time for an asynchronous logger to flush.
    process.stderr.write(`crash point ${name} reached (${reached}): ${settings.signal}\n`);
    process.kill(process.pid, settings.signal);
  };
}
