/**
 * The OpenAPI document at /docs/json: a valid OpenAPI 3.1 document, generated from the route
 * schemas, describing exactly the API of design.md with its security and problem answers; real
 * answers of every operation match it; Swagger UI is served at /docs under a CSP of its own
 * while the API keeps `default-src 'none'`.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createAnswerChecker,
  fetchApiDocument,
  type Answer,
  type OpenApiDocument,
} from '../fixtures/openapi.js';
import { getOrder, postOrder, type call } from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

const KEY = 'docs-key-0123456789abcdef';
const ADMIN = 'docs-admin-0123456789abcdef';
const ctx = useStack({
  stack: { env: { API_KEYS: `${KEY}:acme`, ADMIN_API_KEY: ADMIN } },
});
const tenant = { authorization: `Bearer ${KEY}` };
const admin = { authorization: `Bearer ${ADMIN}` };

/** design.md's HTTP contract plus the admin routes of the failure-path issue. */
const OPERATIONS = {
  'post /orders': 'tenantKey',
  'get /orders/{orderId}': 'tenantKey',
  'post /orders/{orderId}/cancel': 'tenantKey',
  'get /admin/dlq': 'adminKey',
  'get /admin/dlq/{orderId}': 'adminKey',
  'delete /admin/dlq/{orderId}': 'adminKey',
  'post /admin/dlq/{orderId}/redrive': 'adminKey',
  'post /admin/dlq/redrive': 'adminKey',
  'post /admin/dlq/purge': 'adminKey',
  'get /healthz': undefined,
  'get /readyz': undefined,
  'get /metrics': undefined,
} as const;

let doc: OpenApiDocument;
beforeAll(async () => {
  doc = await fetchApiDocument(ctx.stack.gatewayUrl);
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('describes exactly the API, each operation with its security, summary and answers', () => {
    const found = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`),
    );
    expect(found.sort()).toEqual(Object.keys(OPERATIONS).sort());
    for (const [key, scheme] of Object.entries(OPERATIONS)) {
      const [method, path] = key.split(' ') as [string, string];
      const op = doc.paths[path]![method] as any;
      expect(op.summary, key).toBeTruthy();
      expect(op.security, key).toEqual(scheme ? [{ [scheme]: [] }] : undefined);
      for (const [status, response] of Object.entries<any>(op.responses)) {
        expect(response.description, `${key} ${status}`).toBeTruthy();
        const content = Object.values<any>(response.content ?? {});
        expect(content.length, `${key} ${status} has a body schema`).toBe(1);
        if (/^[45]/.test(status)) {
          expect(Object.keys(response.content), `${key} ${status}`).toEqual([
            'application/problem+json',
          ]);
        }
      }
      if (scheme) {
        expect(Object.keys(op.responses), key).toEqual(
          expect.arrayContaining(['401', '429', '5XX']),
        );
      }
    }
    expect((doc as any).components.securitySchemes).toMatchObject({
      tenantKey: { type: 'http', scheme: 'bearer' },
      adminKey: { type: 'http', scheme: 'bearer' },
    });
  });

  it('names its shared shapes, and the order a client sends has no privileged field', () => {
    const schemas = doc.components.schemas as Record<string, any>;
    expect(Object.keys(schemas).sort()).toEqual(
      [
        'AcceptedOrder',
        'CreateOrder',
        'DeadLetter',
        'OrderView',
        'Problem',
        'RedriveResult',
      ].sort(),
    );
    expect(schemas.CreateOrder.additionalProperties).toBe(false);
    expect(Object.keys(schemas.CreateOrder.properties).sort()).toEqual([
      'currency',
      'customerId',
      'items',
    ]);
    expect(schemas.CreateOrder.properties.items.maxItems).toBe(100);
    const post = (doc.paths['/orders']!.post as any).parameters;
    expect(post).toContainEqual(
      expect.objectContaining({ in: 'header', name: 'idempotency-key', required: true }),
    );
  });
});

describe('real answers against the document', () => {
  it('every operation answers as documented, successes and problems alike', async () => {
    const check = createAnswerChecker(doc);
    const base = ctx.stack.gatewayUrl;
    const answers: Answer[] = [];
    const send = async (
      method: string,
      path: string,
      opts: Parameters<typeof call>[3] = {},
    ): Promise<number> => {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      });
      answers.push({
        method,
        path,
        status: res.status,
        contentType: res.headers.get('content-type') ?? '',
        body: await res.text(),
      });
      return res.status;
    };

    const created = await postOrder(base, 'docs-1', undefined, tenant);
    expect(created.status).toBe(202);
    const orderId = created.body.orderId as string;
    const order = {
      customerId: 'c',
      currency: 'USD',
      items: [{ sku: 'a', quantity: 1, unitPrice: 5 }],
    };
    const expected: Array<[number, string, string, Parameters<typeof call>[3]?]> = [
      [
        202,
        'POST',
        '/orders',
        { body: order, headers: { ...tenant, 'idempotency-key': 'docs-2' } },
      ],
      [
        202,
        'POST',
        '/orders',
        { body: order, headers: { ...tenant, 'idempotency-key': 'docs-2' } },
      ],
      [
        422,
        'POST',
        '/orders',
        {
          body: { ...order, customerId: 'd' },
          headers: { ...tenant, 'idempotency-key': 'docs-2' },
        },
      ],
      [
        400,
        'POST',
        '/orders',
        {
          body: { ...order, status: 'COMPLETED' },
          headers: { ...tenant, 'idempotency-key': 'docs-3' },
        },
      ],
      [400, 'POST', '/orders', { body: order, headers: tenant }],
      [401, 'POST', '/orders', { body: order, headers: { 'idempotency-key': 'docs-4' } }],
      [200, 'GET', `/orders/${orderId}`, { headers: tenant }],
      [404, 'GET', '/orders/nope', { headers: tenant }],
      [401, 'GET', `/orders/${orderId}`],
      [404, 'GET', '/no/such/route'],
      [200, 'GET', '/healthz'],
      [200, 'GET', '/readyz'],
      [200, 'GET', '/metrics'],
      [200, 'GET', '/admin/dlq?limit=5', { headers: admin }],
      [400, 'GET', '/admin/dlq?limit=0', { headers: admin }],
      [401, 'GET', '/admin/dlq', { headers: tenant }],
      [404, 'GET', `/admin/dlq/${orderId}`, { headers: admin }],
      [404, 'POST', `/admin/dlq/${orderId}/redrive`, { headers: admin }],
      [404, 'DELETE', `/admin/dlq/${orderId}`, { headers: admin }],
      [200, 'POST', '/admin/dlq/redrive', { body: { tenant: 'nobody' }, headers: admin }],
      [200, 'POST', '/admin/dlq/purge', { body: { tenant: 'nobody' }, headers: admin }],
      [400, 'POST', '/admin/dlq/purge', { body: { everything: true }, headers: admin }],
    ];
    for (const [status, method, path, opts] of expected) {
      expect(await send(method, path, opts), `${method} ${path}`).toBe(status);
    }
    // The order completes; a cancel then is refused with 409, a cancel of a new order is a 200.
    await waitFor('the order COMPLETED', async () =>
      (await getOrder(base, orderId, tenant)).body.status === 'COMPLETED' ? true : undefined,
    );
    expect(await send('POST', `/orders/${orderId}/cancel`, { headers: tenant })).toBe(409);
    for (const answer of answers)
      expect(check(answer), `${answer.method} ${answer.path}`).toBeUndefined();
  });

  it('catches an answer that breaks the document (the checker is not vacuous)', () => {
    const check = createAnswerChecker(doc);
    const json = 'application/json; charset=utf-8';
    // [method, path, status, content type, body, what the checker must say (undefined: fine)]
    const cases: Array<[string, string, number, string, string, RegExp | undefined]> = [
      ['GET', '/healthz', 200, json, '{"status":"ok"}', undefined],
      ['GET', '/healthz', 200, json, '{"status":"ok","stack":"x"}', /additional/],
      ['GET', '/orders/x', 200, json, '{"orderId":"x"}', /required/],
      ['GET', '/orders/x', 409, json, '{}', /not documented/],
      ['GET', '/orders/x', 404, json, '{}', /content type/],
      ['PUT', '/orders', 200, json, '{}', /undocumented/],
    ];
    for (const [method, path, status, contentType, body, verdict] of cases) {
      const said = check({ method, path, status, contentType, body });
      if (verdict) expect(said, `${method} ${path} ${status}`).toMatch(verdict);
      else expect(said, `${method} ${path} ${status}`).toBeUndefined();
    }
  });
});

describe('/docs', () => {
  it('serves Swagger UI with a CSP of its own, while the API keeps default-src none', async () => {
    const ui = await fetch(`${ctx.stack.gatewayUrl}/docs/static/index.html`);
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await ui.text();
    expect(html).toContain('swagger-ui');
    const uiPolicy = ui.headers.get('content-security-policy') ?? '';
    expect(uiPolicy).toMatch(/default-src 'self'/);
    expect(uiPolicy).toMatch(/script-src 'self';/);
    expect(uiPolicy).toMatch(/frame-ancestors 'none'/);
    for (const asset of ['swagger-ui-bundle.js', 'index.css', 'swagger-initializer.js']) {
      const res = await fetch(`${ctx.stack.gatewayUrl}/docs/static/${asset}`);
      expect(res.status, asset).toBe(200);
      await res.arrayBuffer();
    }
    const api = await fetch(`${ctx.stack.gatewayUrl}/orders/x`, { headers: tenant });
    await api.text();
    expect(api.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const redirect = await fetch(`${ctx.stack.gatewayUrl}/docs`, { redirect: 'manual' });
    await redirect.arrayBuffer();
    expect([200, 302]).toContain(redirect.status);
  });
});
