/**
 * The HTTP edge against hostile or careless clients: API keys per tenant on every protected
 * route, tenants isolated from each other (orders and idempotency keys), a rate limit per API
 * key with 429 and Retry-After, security headers, and nothing internal in any answer.
 */
import { describe, expect, it } from 'vitest';
import { call, postOrder, sampleOrder } from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';

const ACME = 'acme-key-0123456789abcdef';
const GLOBEX = 'globex-key-0123456789abcdef';
const LIMITED = 'limited-key-0123456789abcdef';
const ADMIN = 'admin-key-0123456789abcdef';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const ctx = useStack({
  stack: {
    env: {
      API_KEYS: `${ACME}:acme,${GLOBEX}:globex,${LIMITED}:limited`,
      ADMIN_API_KEY: ADMIN,
      // A small budget, so the test can spend it: 20 requests per second per key.
      RATE_LIMIT_PER_SECOND: '20',
    },
  },
});

describe('authentication', () => {
  const protectedRoutes: Array<[string, string]> = [
    ['POST', '/orders'],
    ['GET', '/orders/dY751iqKyVhSui8MqmGOY5'],
    ['POST', '/orders/dY751iqKyVhSui8MqmGOY5/cancel'],
  ];
  const badAuthorizations: Array<[string, Record<string, string>]> = [
    ['missing', {}],
    ['empty', { authorization: '' }],
    ['no scheme', { authorization: ACME }],
    ['wrong scheme', { authorization: `Basic ${ACME}` }],
    ['bearer without key', { authorization: 'Bearer ' }],
    ['unknown key', bearer('unknown-key-0123456789abcdef')],
    ['key with a suffix', bearer(`${ACME}x`)],
    ['admin key on the orders API', bearer(ADMIN)],
  ];
  it('answers 401 UNAUTHORIZED on every protected route for a missing, malformed or unknown key', async () => {
    for (const [method, path] of protectedRoutes) {
      for (const [what, headers] of badAuthorizations) {
        const res = await call(ctx.stack.gatewayUrl, method, path, {
          headers: { ...headers, 'idempotency-key': 'k' },
          ...(method === 'POST' && path === '/orders' ? { body: sampleOrder() } : {}),
        });
        expect([res.status, res.body.code], `${method} ${path}, ${what}`).toEqual([
          401,
          'UNAUTHORIZED',
        ]);
        expect(res.headers.get('www-authenticate'), `${what}`).toMatch(/^Bearer/);
      }
    }
    // The admin routes take only the admin key.
    for (const [what, headers] of [
      ...badAuthorizations.slice(0, 7),
      ['tenant key', bearer(ACME)],
    ] as const) {
      const res = await call(ctx.stack.gatewayUrl, 'GET', '/admin/dlq', { headers });
      expect(res.status, `admin, ${what}`).toBe(401);
    }
  });

  it("hides another tenant's order (404) and scopes idempotency keys per tenant", async () => {
    const postSharedKeyAs = (apiKey: string) =>
      postOrder(ctx.stack.gatewayUrl, 'shared-key', sampleOrder('c1'), bearer(apiKey));
    const created = await postSharedKeyAs(ACME);
    expect(created.status).toBe(202);
    const orderId = created.body.orderId as string;
    expect(
      (await call(ctx.stack.gatewayUrl, 'GET', `/orders/${orderId}`, { headers: bearer(ACME) }))
        .status,
    ).toBe(200);
    const foreign = await call(ctx.stack.gatewayUrl, 'GET', `/orders/${orderId}`, {
      headers: bearer(GLOBEX),
    });
    expect([foreign.status, foreign.body.code]).toEqual([404, 'ORDER_NOT_FOUND']);
    const foreignCancel = await call(ctx.stack.gatewayUrl, 'POST', `/orders/${orderId}/cancel`, {
      headers: bearer(GLOBEX),
    });
    expect(foreignCancel.status).toBe(404);

    // The same key and body from another tenant is another order, not a replay.
    const other = await postSharedKeyAs(GLOBEX);
    expect(other.status).toBe(202);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    expect(other.body.orderId).not.toBe(orderId);
    const replay = await postSharedKeyAs(ACME);
    expect([replay.status, replay.body.orderId]).toEqual([202, orderId]);
  });
});

describe('the rate limit per API key', () => {
  it('answers 429 with Retry-After past the budget, for that key only, and recovers', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const res = await call(ctx.stack.gatewayUrl, 'GET', '/orders/dY751iqKyVhSui8MqmGOY5', {
        headers: bearer(LIMITED),
      });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(limited, `statuses: ${statuses.join(',')}`).toBeDefined();
    expect(statuses.filter((s) => s === 404).length).toBeGreaterThanOrEqual(19);
    expect(limited!.body.code).toBe('RATE_LIMITED');
    expect(limited!.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another key is not affected.
    const other = await call(ctx.stack.gatewayUrl, 'GET', '/orders/dY751iqKyVhSui8MqmGOY5', {
      headers: bearer(GLOBEX),
    });
    expect(other.status).toBe(404);
    // After Retry-After the key may go on.
    await new Promise((r) =>
      setTimeout(r, Number(limited!.headers.get('retry-after')) * 1000 + 100),
    );
    const again = await call(ctx.stack.gatewayUrl, 'GET', '/orders/dY751iqKyVhSui8MqmGOY5', {
      headers: bearer(LIMITED),
    });
    expect(again.status).toBe(404);
  });
});

describe('answers', () => {
  it('carry security headers and never an internal detail', async () => {
    const res = await call(ctx.stack.gatewayUrl, 'POST', '/orders', {
      headers: {
        ...bearer(ACME),
        'idempotency-key': 'headers-1',
        'content-type': 'application/json',
      },
      rawBody: '{"customerId": ',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(JSON.stringify(res.body)).not.toMatch(/\bat \S+:\d+|SyntaxError|node_modules/);
  });
});
