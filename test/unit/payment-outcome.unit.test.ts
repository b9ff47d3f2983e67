import { describe, expect, it } from 'vitest';
import { dispositionFor, nakDelayFor, retryDelayMs } from '../../src/actors/outcome.js';
import { classifyPaymentResponse, parseRetryAfter } from '../../src/actors/payment-client.js';
import { RetryableError, TerminalError } from '../../src/shared/index.js';

const outcome = (status: number, retryAfter?: string) => {
  try {
    return classifyPaymentResponse(status, { paymentId: 'p1' }, retryAfter);
  } catch (err) {
    return err;
  }
};

describe('payment response classification (the fixed contract)', () => {
  it('2xx is a charge', () => {
    expect(outcome(200)).toEqual({ paymentId: 'p1' });
    expect(outcome(201)).toEqual({ paymentId: 'p1' });
  });

  it.each([400, 402, 404, 409, 422])('%i is permanent', (status) => {
    const err = outcome(status);
    expect(err).toBeInstanceOf(TerminalError);
    expect((err as TerminalError).code).toBe(`PAYMENT_REJECTED_${status}`);
  });

  it.each([429, 500, 502, 503, 504])('%i is transient', (status) => {
    expect(outcome(status)).toBeInstanceOf(RetryableError);
  });

  it('honours Retry-After in seconds and as an HTTP date', () => {
    expect((outcome(503, '7') as RetryableError).retryAfterMs).toBe(7_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('garbage')).toBeUndefined();
  });
});

describe('retry schedule', () => {
  const backoff = [1_000, 5_000, 30_000];

  it('follows the BACKOFF steps with +-20% jitter, staying on the last step', () => {
    expect(retryDelayMs(1, backoff, undefined, () => 0.5)).toBe(1_000);
    expect(retryDelayMs(2, backoff, undefined, () => 0)).toBe(4_000);
    expect(retryDelayMs(2, backoff, undefined, () => 1)).toBe(6_000);
    expect(retryDelayMs(9, backoff, undefined, () => 0.5)).toBe(30_000);
  });

  it('never retries sooner than Retry-After', () => {
    expect(retryDelayMs(1, backoff, 10_000, () => 0.5)).toBe(10_000);
  });

  it('maps terminal errors to term, everything else to a delayed nak', () => {
    expect(
      dispositionFor(new TerminalError('PAYMENT_REJECTED_402', 'no'), 1, backoff),
    ).toMatchObject({ kind: 'term' });
    expect(dispositionFor(new RetryableError('PAYMENT_TIMEOUT', 'slow'), 1, backoff)).toMatchObject(
      { kind: 'nak', code: 'PAYMENT_TIMEOUT' },
    );
    const unknown = dispositionFor(new Error('boom'), 2, backoff);
    expect(unknown).toMatchObject({ kind: 'nak', code: 'INTERNAL' });
    expect((unknown as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(4_000);
  });
});

describe('nak delay under a consumer backoff', () => {
  // Measured: backoff [300,600,1000] and nak(100) on deliveries 1,2,3 redeliver after 101, 402, 802 ms.
  const backoff = [300, 600, 1_000];

  it('subtracts what the server adds (backoff[n-1] - backoff[0]) so the wait is the one wanted', () => {
    expect(nakDelayFor(300, 1, backoff)).toBe(300);
    expect(nakDelayFor(600, 2, backoff)).toBe(300);
    expect(nakDelayFor(1_000, 3, backoff)).toBe(300);
    expect(nakDelayFor(1_000, 9, backoff)).toBe(300);
  });

  it('never asks for an immediate redelivery', () => {
    expect(nakDelayFor(100, 3, backoff)).toBe(1);
  });
});
