/**
 * Property-based fuzzing of the HTTP API (fast-check): 10,000 generated requests, valid and
 * invalid, against a real gateway on a real NATS server. Whatever arrives: never a 5xx, only
 * the documented statuses, a body that matches the documented schema (an accepted order, an
 * order view, or a problem), never an internal detail, and privileged fields in a body are
 * refused rather than taken.
 */
import * as fc from 'fast-check';
import { Pool } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { useStack } from '../fixtures/stack.js';

const KEY = 'fuzz-key-0123456789abcdef';
const RUNS = 10_000;
const ctx = useStack({
  stack: { env: { API_KEYS: `${KEY}:acme`, ADMIN_API_KEY: 'fuzz-admin-0123456789abcdef' } },
});
let pool: Pool | undefined;
afterAll(async () => pool?.close());

const EXPECTED_STATUSES = new Set([200, 202, 400, 401, 404, 409, 413, 415, 422, 429]);
const PRIVILEGED = ['status', 'amount', 'tenant'] as const;

const validItem = fc.record({
  sku: fc.stringMatching(/^[A-Z0-9-]{1,12}$/),
  quantity: fc.integer({ min: 1, max: 5 }),
  unitPrice: fc.integer({ min: 1, max: 100_000 }),
});
const validOrder = fc.record({
  customerId: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
  currency: fc.constantFrom('USD', 'EUR', 'GBP'),
  items: fc.array(validItem, { minLength: 1, maxLength: 5 }),
});
/** Bodies a client might send: valid, valid plus a privileged field, broken, or random. */
const body = fc.oneof(
  validOrder.map((o) => ({ kind: 'valid' as const, text: JSON.stringify(o) })),
  fc.tuple(validOrder, fc.constantFrom(...PRIVILEGED), fc.jsonValue()).map(([o, field, value]) => ({
    kind: 'privileged' as const,
    text: JSON.stringify({ ...o, [field]: value }),
  })),
  validOrder.map((o) => ({
    kind: 'too many items' as const,
    text: JSON.stringify({ ...o, items: Array.from({ length: 101 }, () => o.items[0]) }),
  })),
  fc.jsonValue().map((v) => ({ kind: 'random json' as const, text: JSON.stringify(v) ?? 'null' })),
  fc.string({ maxLength: 200 }).map((s) => ({ kind: 'text' as const, text: s })),
  fc.constant({ kind: 'huge' as const, text: `{"customerId":"${'x'.repeat(70_000)}"}` }),
  fc.constant({ kind: 'none' as const, text: '' }),
);
const authorization = fc.oneof(
  fc.constant(`Bearer ${KEY}`),
  fc.constant(`Bearer ${KEY}`),
  fc.constant(undefined),
  fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`),
  fc.string({ maxLength: 40 }),
);
const idempotencyKey = fc.oneof(
  fc.uuid(),
  fc.constant(undefined),
  fc.string({ maxLength: 300 }),
  fc.string({ minLength: 256, maxLength: 300 }),
  fc.constant('"unterminated'),
);
const orderId = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9]{22}$/),
  fc.string({ maxLength: 60 }).map(encodeURIComponent),
  fc.constant('..%2F..%2Fetc%2Fpasswd'),
);
const request = fc.oneof(
  fc.record({
    method: fc.constant('POST'),
    path: fc.constant('/orders'),
    body,
    authorization,
    idempotencyKey,
    contentType: fc.oneof(
      fc.constant('application/json'),
      fc.constant('application/json'),
      fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded'),
      fc.constant(undefined),
    ),
  }),
  fc.record({
    method: fc.constantFrom('GET', 'POST'),
    path: fc.oneof(
      orderId.map((id) => `/orders/${id}`),
      orderId.map((id) => `/orders/${id}/cancel`),
      fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
    ),
    body: fc.constant({ kind: 'none' as const, text: '' }),
    authorization,
    idempotencyKey,
    contentType: fc.constant(undefined),
  }),
);

/** The documented answers: an accepted order, an order view, a problem. */
function matchesSchema(status: number, contentType: string, json: any): string | undefined {
  if (status === 202) {
    const ok =
      typeof json.orderId === 'string' &&
      json.status === 'CREATED' &&
      Number.isInteger(json.amount) &&
      typeof json.currency === 'string';
    return ok && contentType.startsWith('application/json') ? undefined : 'not an accepted order';
  }
  if (status === 200) {
    const ok =
      typeof json.orderId === 'string' &&
      typeof json.status === 'string' &&
      Array.isArray(json.history) &&
      Array.isArray(json.items);
    return ok ? undefined : 'not an order view';
  }
  const ok =
    contentType.startsWith('application/problem+json') &&
    typeof json.type === 'string' &&
    typeof json.title === 'string' &&
    json.status === status &&
    /^[A-Z_]+$/.test(json.code);
  return ok ? undefined : 'not a problem';
}

describe('the HTTP API under 10,000 generated requests', () => {
  it('never fails with a 5xx, answers only documented statuses and shapes, and refuses privileged fields', async () => {
    pool = new Pool(ctx.stack.gatewayUrl, { connections: 8 });
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.authorization !== undefined) headers.authorization = r.authorization;
        if (r.idempotencyKey !== undefined) headers['idempotency-key'] = r.idempotencyKey;
        if (r.contentType !== undefined) headers['content-type'] = r.contentType;
        const res = await pool!.request({
          method: r.method,
          path: r.path,
          headers,
          ...(r.method === 'POST' && r.body.text !== '' ? { body: r.body.text } : {}),
        });
        const text = await res.body.text();
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        const where = `${r.method} ${r.path} (${r.body.kind}) -> ${res.statusCode} ${text.slice(0, 200)}`;
        expect(res.statusCode, where).toBeLessThan(500);
        expect(EXPECTED_STATUSES.has(res.statusCode), where).toBe(true);
        expect(text, where).not.toMatch(/\bat \S+:\d+:\d+|node_modules|SyntaxError/);
        const contentType = String(res.headers['content-type'] ?? '');
        expect(matchesSchema(res.statusCode, contentType, JSON.parse(text)), where).toBeUndefined();
        if (r.body.kind === 'privileged' || r.body.kind === 'too many items')
          expect(res.statusCode, where).not.toBe(202);
      }),
      { numRuns: RUNS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
    );
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(RUNS);
    // The generator reached the interesting answers, not only the first refusal.
    for (const status of [202, 400, 401, 404, 415])
      expect(seen.get(status) ?? 0, `${status}`).toBeGreaterThan(0);
    console.log(`fuzz: ${RUNS} requests, statuses ${JSON.stringify(Object.fromEntries(seen))}`);
  }, 300_000);
});
