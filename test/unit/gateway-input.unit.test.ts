import { describe, expect, it } from 'vitest';
import { parseIdempotencyKey, requestFingerprint } from '../../src/gateway/idempotency.js';
import { ProblemError } from '../../src/gateway/problem.js';
import { orderAmount, parseCreateOrder } from '../../src/gateway/schemas.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof ProblemError ? err.code : 'NOT_A_PROBLEM';
  }
};

describe('Idempotency-Key parsing', () => {
  it('accepts 1-255 printable ASCII characters as they are', () => {
    expect(parseIdempotencyKey('a')).toBe('a');
    expect(parseIdempotencyKey('order 42 / retry #1')).toBe('order 42 / retry #1');
    expect(parseIdempotencyKey('x'.repeat(255))).toHaveLength(255);
  });

  it('accepts the quoted structured-field string form, with escapes', () => {
    expect(parseIdempotencyKey('"abc"')).toBe('abc');
    expect(parseIdempotencyKey('"say \\"hi\\" \\\\ bye"')).toBe('say "hi" \\ bye');
  });

  it('refuses missing, empty, overlong, non-printable and malformed quoted keys', () => {
    expect(code(() => parseIdempotencyKey(undefined))).toBe('IDEMPOTENCY_KEY_MISSING');
    expect(code(() => parseIdempotencyKey(''))).toBe('IDEMPOTENCY_KEY_MISSING');
    expect(code(() => parseIdempotencyKey('x'.repeat(256)))).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(code(() => parseIdempotencyKey('tab\there'))).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(code(() => parseIdempotencyKey('caf\u00e9'))).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(code(() => parseIdempotencyKey('""'))).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(code(() => parseIdempotencyKey('"open'))).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(code(() => parseIdempotencyKey('"bad \\n escape"'))).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(code(() => parseIdempotencyKey(['a', 'b']))).toBe('IDEMPOTENCY_KEY_INVALID');
  });
});

describe('request fingerprint', () => {
  it('ignores key order and differs for any change of content', () => {
    const a = requestFingerprint('POST /orders', { x: 1, y: [1, 2] });
    expect(requestFingerprint('POST /orders', { y: [1, 2], x: 1 })).toBe(a);
    expect(requestFingerprint('POST /orders', { x: 1, y: [2, 1] })).not.toBe(a);
    expect(requestFingerprint('POST /other', { x: 1, y: [1, 2] })).not.toBe(a);
  });
});

describe('order body', () => {
  const body = {
    customerId: 'c',
    currency: 'USD',
    items: [{ sku: 's', quantity: 3, unitPrice: 7 }],
  };

  it('computes the amount in minor units', () => {
    expect(orderAmount(parseCreateOrder(body))).toBe(21);
  });

  it('refuses a total that cannot be represented exactly', () => {
    const huge = {
      ...body,
      items: Array.from({ length: 100 }, () => ({
        sku: 's',
        quantity: 1_000_000,
        unitPrice: 1_000_000_000_000,
      })),
    };
    expect(code(() => orderAmount(parseCreateOrder(huge)))).toBe('AMOUNT_TOO_LARGE');
  });

  it('refuses more than 100 items', () => {
    const many = { ...body, items: Array.from({ length: 101 }, () => body.items[0]) };
    expect(code(() => parseCreateOrder(many))).toBe('INVALID_FIELD');
  });
});
