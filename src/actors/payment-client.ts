/**
 * The payment service client, per the fixed contract (design.md section 3). This is the one
 * place where an HTTP outcome becomes a result or an error class:
 *   2xx -> charged; 400/402/404/409/422 -> TerminalError; 429, 5xx, connection errors and
 *   timeouts -> RetryableError (with Retry-After when the service sent one).
 */
import { Agent, errors as undiciErrors, request } from 'undici';
import { RetryableError, TerminalError, errorMessage } from '../shared/index.js';

export interface ChargeRequest {
  orderId: string;
  amount: number;
  currency: string;
  correlationId?: string;
}

export interface ChargeResult {
  paymentId: string;
}

export interface PaymentClient {
  charge(req: ChargeRequest): Promise<ChargeResult>;
  close(): Promise<void>;
}

const PERMANENT_STATUSES = new Set([400, 402, 404, 409, 422]);

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or bad. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function classifyPaymentResponse(
  statusCode: number,
  body: unknown,
  retryAfter: string | string[] | undefined,
): ChargeResult {
  if (statusCode >= 200 && statusCode < 300) {
    const paymentId = (body as { paymentId?: unknown } | undefined)?.paymentId;
    return { paymentId: typeof paymentId === 'string' ? paymentId : 'unknown' };
  }
  const detail =
    typeof body === 'object' && body !== null ? JSON.stringify(body).slice(0, 200) : '';
  const message = `payment service answered ${statusCode}${detail ? `: ${detail}` : ''}`;
  if (PERMANENT_STATUSES.has(statusCode)) {
    throw new TerminalError(`PAYMENT_REJECTED_${statusCode}`, message, { statusCode });
  }
  if (statusCode === 429 || statusCode >= 500) {
    throw new RetryableError(`PAYMENT_UNAVAILABLE_${statusCode}`, message, {
      statusCode,
      retryAfterMs: parseRetryAfter(retryAfter),
    });
  }
  // 1xx/3xx/other 4xx are outside the contract: a misconfigured URL, not a declined charge.
  throw new RetryableError(`PAYMENT_UNEXPECTED_${statusCode}`, message, { statusCode });
}

export function createPaymentClient(opts: {
  baseUrl: string;
  timeoutMs: number;
  connections?: number;
}): PaymentClient {
  const agent = new Agent({
    connections: opts.connections ?? 64,
    keepAliveTimeout: 30_000,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  });
  const url = `${opts.baseUrl}/payments`;

  async function charge(req: ChargeRequest): Promise<ChargeResult> {
    let response;
    try {
      response = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: {
          'content-type': 'application/json',
          'idempotency-key': req.orderId,
          ...(req.correlationId ? { 'x-correlation-id': req.correlationId } : {}),
        },
        body: JSON.stringify({ orderId: req.orderId, amount: req.amount, currency: req.currency }),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
    } catch (err) {
      const timedOut =
        err instanceof undiciErrors.HeadersTimeoutError ||
        err instanceof undiciErrors.BodyTimeoutError ||
        (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'));
      throw new RetryableError(
        timedOut ? 'PAYMENT_TIMEOUT' : 'PAYMENT_CONNECTION_FAILED',
        `payment call failed: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    let body: unknown;
    try {
      body = await response.body.json();
    } catch {
      body = undefined;
    }
    return classifyPaymentResponse(response.statusCode, body, response.headers['retry-after']);
  }

  return { charge, close: () => agent.close() };
}
