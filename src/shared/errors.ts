/**
 * Errors with stable codes. Callers branch on `code` (or on the class), never on message text.
 * `TerminalError` and `RetryableError` decide a JetStream outcome in exactly one place
 * (`src/actors/outcome.ts`): retryable -> nak(delay), terminal -> term().
 */
export interface AppErrorOptions {
  statusCode?: number;
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, opts: AppErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.statusCode = opts.statusCode ?? 500;
    this.details = opts.details;
  }
}

/** Will never succeed however often it is tried: dead-letter it. */
export class TerminalError extends AppError {}

/** May succeed later: try again after `retryAfterMs` when the remote said so. */
export class RetryableError extends AppError {
  readonly retryAfterMs: number | undefined;

  constructor(
    code: string,
    message: string,
    opts: AppErrorOptions & { retryAfterMs?: number | undefined } = {},
  ) {
    super(code, message, opts);
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Refusal to start: bad configuration, missing binary. One clear line, then exit. */
export class StartupError extends AppError {
  constructor(message: string, cause?: unknown) {
    super('STARTUP_FAILED', message, { cause });
  }
}

/** JetStream's "wrong last sequence": a KV create on an existing key, or a stale CAS revision. */
export const KV_CONFLICT_API_CODE = 10071;
/**
 * The same refusal without the sequence: a clustered stream answers it to a compare-and-set (or
 * a create) on a key whose earlier write is still being proposed (nats-server 2.12,
 * checkMsgHeadersPreClusteredProposal). Another writer got there first, as with 10071.
 */
export const KV_IN_FLIGHT_CONFLICT_API_CODE = 10164;

/** Another writer won the key: re-read and decide again (never an error to report). */
export function isKvConflict(err: unknown): boolean {
  const code = apiErrorCode(err);
  return code === KV_CONFLICT_API_CODE || code === KV_IN_FLIGHT_CONFLICT_API_CODE;
}

/** JetStream's "no message found", e.g. deleting a message that is already gone. */
export const NO_MESSAGE_API_CODE = 10037;

export function isNoMessageFound(err: unknown): boolean {
  return apiErrorCode(err) === NO_MESSAGE_API_CODE;
}

/** The JetStream API error code carried by an error from @nats-io/jetstream or @nats-io/kv. */
export function apiErrorCode(err: unknown): number | undefined {
  let current: unknown = err;
  // The KV layer wraps the JetStreamApiError; walk the cause chain.
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    current = current.cause;
  }
  return undefined;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
