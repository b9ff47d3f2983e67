/**
 * Client-facing errors as RFC 9457 problem details, each with a stable `code`. HTTP sends them
 * as `application/problem+json`; the NATS API sends the same body with
 * `Nats-Service-Error-Code` (the HTTP-equivalent status) and `Nats-Service-Error`.
 */
import { Type, type Static } from '@sinclair/typebox';
import { errors } from '@nats-io/transport-node';
import { AppError, isJetStreamUnavailable } from '../shared/index.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Record<string, string> = {
  MALFORMED_JSON: 'The request body is not valid JSON',
  UNKNOWN_FIELD: 'The request body has a field this API does not accept',
  MISSING_FIELD: 'The request body lacks a required field',
  INVALID_FIELD: 'A field of the request body has an invalid value',
  AMOUNT_TOO_LARGE: 'The order total is too large',
  IDEMPOTENCY_KEY_MISSING: 'The Idempotency-Key header is required',
  IDEMPOTENCY_KEY_INVALID: 'The Idempotency-Key header is malformed',
  IDEMPOTENCY_KEY_IN_USE: 'A request with this Idempotency-Key is still being processed',
  IDEMPOTENCY_KEY_REUSED: 'This Idempotency-Key was used with a different request',
  PAYLOAD_TOO_LARGE: 'The request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'The request body must be application/json',
  UNAUTHORIZED: 'A valid API key is required',
  ORDER_NOT_FOUND: 'No such order',
  ORDER_NOT_CANCELLABLE: 'The order can no longer be cancelled',
  DEAD_LETTER_NOT_FOUND: 'No dead letter for this order',
  DEAD_LETTER_NOT_REDRIVABLE: 'This dead letter cannot be redriven',
  ADMIN_API_DISABLED: 'The admin API is disabled',
  NOT_FOUND: 'No such resource',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  SERVICE_UNAVAILABLE: 'The service is temporarily unavailable',
  RATE_LIMITED: 'Too many requests for this API key',
  INTERNAL: 'Internal error',
};

/** Every error answer, HTTP and NATS alike (RFC 9457 plus a stable `code`). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ format: 'uri' }),
    title: Type.String(),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String({
      pattern: '^[A-Z][A-Z0-9_]*$',
      description: 'Stable machine-readable reason, e.g. IDEMPOTENCY_KEY_REUSED',
    }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(
      Type.Array(
        Type.Object(
          {
            pointer: Type.String({ description: 'JSON Pointer into the request body' }),
            message: Type.String(),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { $id: 'Problem', additionalProperties: false },
);

export type ProblemBody = Static<typeof ProblemSchema>;

export class ProblemError extends AppError {
  constructor(
    statusCode: number,
    code: string,
    detail?: string,
    readonly errors?: Array<{ pointer: string; message: string }>,
  ) {
    super(code, detail ?? TITLES[code] ?? code, { statusCode });
  }

  toBody(instance?: string): ProblemBody {
    return {
      type: `https://nats-orders.dev/problems/${this.code.toLowerCase().replaceAll('_', '-')}`,
      title: TITLES[this.code] ?? this.code,
      status: this.statusCode,
      code: this.code,
      ...(this.message !== TITLES[this.code] ? { detail: this.message } : {}),
      ...(instance ? { instance } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

/** How long a client should wait before retrying while NATS is unreachable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 1;

/**
 * NATS or JetStream cannot answer now (disconnected, timed out, no leader): the request may
 * be retried as it is. Anything else unexpected is a bug, answered without detail.
 */
function isUnavailable(err: unknown): boolean {
  return (
    err instanceof errors.TimeoutError ||
    err instanceof errors.ConnectionError ||
    err instanceof errors.ClosedConnectionError ||
    err instanceof errors.DrainingConnectionError ||
    err instanceof errors.RequestError ||
    // No responders (also as the JetStream client wraps it) and JetStream's own 503s.
    isJetStreamUnavailable(err)
  );
}

/** Anything that is not a ProblemError becomes a 503 (NATS unavailable) or a bare 500. */
export function asProblem(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err;
  if (isUnavailable(err)) {
    return new ProblemError(
      503,
      'SERVICE_UNAVAILABLE',
      'NATS or JetStream is unavailable; retry shortly',
    );
  }
  return new ProblemError(500, 'INTERNAL');
}
