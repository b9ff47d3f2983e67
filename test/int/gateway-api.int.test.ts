import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { createIdempotencyStore, requestFingerprint } from '../../src/gateway/idempotency.js';
import { DEFAULT_TENANT } from '../../src/gateway/index.js';
import { acceptedResponseFrom } from '../../src/gateway/order-service.js';
import { createActorStore } from '../../src/actors/index.js';
import { nuid } from '@nats-io/transport-node';
import {
  ORDERS_KV_STREAM,
  openIdempotencyBucket,
  openOrdersBucket,
} from '../../src/shared/index.js';
import {
  SAMPLE_AMOUNT,
  call,
  getOrder,
  natsRequest,
  postOrder,
  sampleOrder,
} from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

const ctx = useStack();

/** Orders stored: distinct keys of the bucket's stream, exact even while workers write. */
async function orderCount(): Promise<number> {
  const jsm = await jetstreamManager(ctx.nc);
  return (await jsm.streams.info(ORDERS_KV_STREAM)).state.num_subjects ?? 0;
}

function expectProblem(
  res: { status: number; headers: Headers; body: any },
  status: number,
  code: string,
) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status,
    code,
    title: expect.any(String),
    type: expect.any(String),
  });
}

describe('idempotency over HTTP', () => {
  it('replays the same status and body for the same key and body, with Idempotent-Replayed', async () => {
    const first = await postOrder(ctx.stack.gatewayUrl, 'replay-1');
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    // Field order does not matter: same request, same fingerprint.
    const { items, currency, customerId } = sampleOrder();
    const again = await postOrder(ctx.stack.gatewayUrl, 'replay-1', {
      items,
      currency,
      customerId,
    });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('location')).toBe(`/orders/${first.body.orderId}`);
  });

  it('accepts the quoted structured-field form of the key as the same key', async () => {
    const plain = await postOrder(ctx.stack.gatewayUrl, 'sf "quoted" key');
    const quoted = await postOrder(ctx.stack.gatewayUrl, '"sf \\"quoted\\" key"');
    expect(plain.status).toBe(202);
    expect(quoted.status).toBe(202);
    expect(quoted.body.orderId).toBe(plain.body.orderId);
    expect(quoted.headers.get('idempotent-replayed')).toBe('true');
  });

  it('answers 422 for the same key with a different body, and changes nothing', async () => {
    const first = await postOrder(ctx.stack.gatewayUrl, 'mismatch-1');
    const before = await orderCount();
    const res = await postOrder(ctx.stack.gatewayUrl, 'mismatch-1', sampleOrder('someone-else'));
    expectProblem(res, 422, 'IDEMPOTENCY_KEY_REUSED');
    expect(await orderCount()).toBe(before);
    expect((await postOrder(ctx.stack.gatewayUrl, 'mismatch-1')).body).toEqual(first.body);
  });

  it('answers 409 while the first request with the key is still in flight', async () => {
    // Another gateway holds the key with a live lease and has not answered yet.
    const idempotency = createIdempotencyStore({
      kv: await openIdempotencyBucket(jetstream(ctx.nc)),
      leaseMs: 60_000,
      acceptedResponse: async () => undefined, // its order is never created
    });
    const fingerprint = requestFingerprint('POST /orders', sampleOrder());
    const claim = await idempotency.claim(
      DEFAULT_TENANT,
      'in-flight-1',
      fingerprint,
      'held-order-id',
    );
    expect(claim.kind).toBe('claimed');
    const before = await orderCount();
    expectProblem(
      await postOrder(ctx.stack.gatewayUrl, 'in-flight-1'),
      409,
      'IDEMPOTENCY_KEY_IN_USE',
    );
    expect(await orderCount()).toBe(before);
  });

  it('owns a key whose entry its own create stored, though the create was refused', async () => {
    // On R3 under load a create can be stored and still answered "wrong last sequence": the
    // entry then names this request's order id, and the request must not 409 against itself.
    const idempotency = createIdempotencyStore({
      kv: await openIdempotencyBucket(jetstream(ctx.nc)),
      leaseMs: 60_000,
      acceptedResponse: async () => undefined, // the order is not created yet
    });
    const fingerprint = requestFingerprint('POST /orders', sampleOrder());
    const stored = await idempotency.claim(DEFAULT_TENANT, 'own-1', fingerprint, 'own-order-id');
    expect(stored).toEqual({ kind: 'claimed', orderId: 'own-order-id', takeover: false });
    // The same request's create, seen as a conflict: the entry is found and is its own.
    expect(await idempotency.claim(DEFAULT_TENANT, 'own-1', fingerprint, 'own-order-id')).toEqual(
      stored,
    );
    // Another request with the same key and body is still told to wait.
    expect(await idempotency.claim(DEFAULT_TENANT, 'own-1', fingerprint, 'other-id')).toEqual({
      kind: 'in_flight',
    });
  });

  it('owns a key its own takeover updated, though the takeover was not answered', async () => {
    // A takeover that timed out may still have been stored; the request's retry (same order id
    // to offer) must see its own takeover, not a live lease to wait for.
    let clock = Date.now();
    const idempotency = createIdempotencyStore({
      kv: await openIdempotencyBucket(jetstream(ctx.nc)),
      leaseMs: 1_000,
      acceptedResponse: async () => undefined, // the dead owner never created its order
      now: () => clock,
    });
    const fingerprint = requestFingerprint('POST /orders', sampleOrder());
    await idempotency.claim(DEFAULT_TENANT, 'took-over-1', fingerprint, 'dead-owner-id');
    clock += 5_000; // the owner's lease ran out
    const takeover = await idempotency.claim(
      DEFAULT_TENANT,
      'took-over-1',
      fingerprint,
      'retry-id',
    );
    expect(takeover).toEqual({ kind: 'claimed', orderId: 'dead-owner-id', takeover: true });
    // The same request again (its takeover's answer lost): still its own, within the new lease.
    expect(await idempotency.claim(DEFAULT_TENANT, 'took-over-1', fingerprint, 'retry-id')).toEqual(
      takeover,
    );
    // Anyone else waits for that lease.
    expect(await idempotency.claim(DEFAULT_TENANT, 'took-over-1', fingerprint, 'third-id')).toEqual(
      { kind: 'in_flight' },
    );
  });

  it('replays at once when the owner created the order and died before answering', async () => {
    // The owner holds a live lease; the order it made exists: that order is the answer.
    const js = jetstream(ctx.nc);
    const store = createActorStore({ kv: await openOrdersBucket(js) });
    const idempotency = createIdempotencyStore({
      kv: await openIdempotencyBucket(js),
      leaseMs: 60_000,
      acceptedResponse: acceptedResponseFrom(store),
    });
    const body = sampleOrder('owner-died');
    const orderId = nuid.next();
    const claim = await idempotency.claim(
      DEFAULT_TENANT,
      'created-then-died-1',
      requestFingerprint('POST /orders', body),
      orderId,
    );
    expect(claim).toEqual({ kind: 'claimed', orderId, takeover: false });
    await store.create({
      orderId,
      tenant: DEFAULT_TENANT,
      customerId: body.customerId,
      currency: body.currency,
      items: body.items,
      amount: SAMPLE_AMOUNT,
      correlationId: 'corr-owner-died',
      at: new Date().toISOString(),
    });
    const before = await orderCount();
    const replay = await postOrder(ctx.stack.gatewayUrl, 'created-then-died-1', body);
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual({
      orderId,
      status: 'CREATED',
      amount: SAMPLE_AMOUNT,
      currency: body.currency,
    });
    expect(await orderCount()).toBe(before);
  });

  it('creates exactly one order from 50 concurrent identical requests', async () => {
    const before = await orderCount();
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        postOrder(ctx.stack.gatewayUrl, 'concurrent-1', sampleOrder('concurrent')),
      ),
    );
    const accepted = responses.filter((r) => r.status === 202);
    const fresh = accepted.filter((r) => r.headers.get('idempotent-replayed') === null);
    expect(fresh).toHaveLength(1);
    expect(new Set(accepted.map((r) => r.body.orderId)).size).toBe(1);
    for (const r of responses.filter((r) => r.status !== 202))
      expectProblem(r, 409, 'IDEMPOTENCY_KEY_IN_USE');
    expect(await orderCount()).toBe(before + 1);
    const orderId = fresh[0]!.body.orderId as string;
    await waitFor('one charge', () =>
      ctx.stack.stub.ledger.get(orderId)?.charges === 1 ? true : undefined,
    );
  });
});

describe('request validation over HTTP', () => {
  const base = sampleOrder();
  const cases: Array<[string, unknown, string, string]> = [
    ['unknown field', { ...base, status: 'COMPLETED' }, 'UNKNOWN_FIELD', '/status'],
    [
      'unknown item field',
      { ...base, items: [{ sku: 'a', quantity: 1, unitPrice: 1, discount: 5 }] },
      'UNKNOWN_FIELD',
      '/items/0/discount',
    ],
    ['missing field', { currency: 'USD', items: base.items }, 'MISSING_FIELD', '/customerId'],
    ['wrong type', { ...base, customerId: 42 }, 'INVALID_FIELD', '/customerId'],
    [
      'string quantity',
      { ...base, items: [{ sku: 'a', quantity: '1', unitPrice: 1 }] },
      'INVALID_FIELD',
      '/items/0/quantity',
    ],
    ['empty items', { ...base, items: [] }, 'INVALID_FIELD', '/items'],
    [
      'quantity 0',
      { ...base, items: [{ sku: 'a', quantity: 0, unitPrice: 1 }] },
      'INVALID_FIELD',
      '/items/0/quantity',
    ],
    [
      'negative price',
      { ...base, items: [{ sku: 'a', quantity: 1, unitPrice: -1 }] },
      'INVALID_FIELD',
      '/items/0/unitPrice',
    ],
    [
      'fractional price',
      { ...base, items: [{ sku: 'a', quantity: 1, unitPrice: 1.5 }] },
      'INVALID_FIELD',
      '/items/0/unitPrice',
    ],
    ['bad currency', { ...base, currency: 'usd' }, 'INVALID_FIELD', '/currency'],
    ['body not an object', [base], 'INVALID_FIELD', '/'],
  ];

  it.each(cases)('%s -> 400 %s at %s, nothing stored', async (_name, body, code, pointer) => {
    const before = await orderCount();
    const res = await postOrder(ctx.stack.gatewayUrl, `invalid-${code}-${pointer}`, body);
    expectProblem(res, 400, code);
    expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ pointer })]));
    expect(await orderCount()).toBe(before);
  });

  it('malformed JSON -> 400 MALFORMED_JSON', async () => {
    const res = await call(ctx.stack.gatewayUrl, 'POST', '/orders', {
      rawBody: '{"customerId": "c1",',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'malformed-json' },
    });
    expectProblem(res, 400, 'MALFORMED_JSON');
  });

  it('missing, empty-quoted, non-ASCII and overlong keys -> 400', async () => {
    expectProblem(await postOrder(ctx.stack.gatewayUrl, undefined), 400, 'IDEMPOTENCY_KEY_MISSING');
    expectProblem(await postOrder(ctx.stack.gatewayUrl, '""'), 400, 'IDEMPOTENCY_KEY_INVALID');
    expectProblem(
      await postOrder(ctx.stack.gatewayUrl, '"unterminated'),
      400,
      'IDEMPOTENCY_KEY_INVALID',
    );
    expectProblem(
      await postOrder(ctx.stack.gatewayUrl, 'k'.repeat(256)),
      400,
      'IDEMPOTENCY_KEY_INVALID',
    );
    expect((await postOrder(ctx.stack.gatewayUrl, 'k'.repeat(255))).status).toBe(202);
    const nonAscii = await fetch(`${ctx.stack.gatewayUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'caf\u00e9' },
      body: JSON.stringify(base),
    });
    expect(nonAscii.status).toBe(400);
    expect(((await nonAscii.json()) as { code: string }).code).toBe('IDEMPOTENCY_KEY_INVALID');
  });

  it('a body over the limit -> 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await postOrder(ctx.stack.gatewayUrl, 'too-large', {
      ...base,
      customerId: 'x'.repeat(70_000),
    });
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('a wrong content type -> 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const res = await call(ctx.stack.gatewayUrl, 'POST', '/orders', {
      rawBody: JSON.stringify(base),
      headers: { 'content-type': 'text/plain', 'idempotency-key': 'wrong-type' },
    });
    expectProblem(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('an unknown order -> 404 ORDER_NOT_FOUND; an unknown route -> 404 NOT_FOUND', async () => {
    expectProblem(await getOrder(ctx.stack.gatewayUrl, 'no-such-order'), 404, 'ORDER_NOT_FOUND');
    expectProblem(await getOrder(ctx.stack.gatewayUrl, '..%2F..%2Fetc'), 404, 'ORDER_NOT_FOUND');
    expectProblem(await call(ctx.stack.gatewayUrl, 'GET', '/nope'), 404, 'NOT_FOUND');
  });

  it('health and readiness', async () => {
    expect((await call(ctx.stack.gatewayUrl, 'GET', '/healthz')).status).toBe(200);
    expect(await call(ctx.stack.gatewayUrl, 'GET', '/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ready' },
    });
  });
});

describe('NATS request-reply API', () => {
  const request = (subject: string, body: unknown, hdrs: Record<string, string> = {}) =>
    natsRequest(ctx.nc, subject, body, hdrs);

  it('creates an order that completes with one charge, replays it, and serves get', async () => {
    const created = await request('orders.api.create', sampleOrder('nats-client'), {
      'Idempotency-Key': 'nats-1',
    });
    expect(created.code).toBeUndefined();
    expect(created.body).toEqual({
      orderId: expect.any(String),
      status: 'CREATED',
      amount: SAMPLE_AMOUNT,
      currency: 'USD',
    });
    const replay = await request('orders.api.create', sampleOrder('nats-client'), {
      'Idempotency-Key': 'nats-1',
    });
    expect(replay).toMatchObject({ body: created.body, replayed: true });

    const orderId = created.body.orderId as string;
    const done = await waitFor('COMPLETED over NATS', async () => {
      const res = await request('orders.api.get', { orderId });
      return res.body.status === 'COMPLETED' ? res : undefined;
    });
    expect(done.body.history.map((h: { status: string }) => h.status)).toEqual([
      'CREATED',
      'PROCESSING',
      'COMPLETED',
    ]);
    expect(ctx.stack.stub.ledger.get(orderId)).toMatchObject({ charges: 1, calls: 1 });
    // The bare id works too, for `nats req orders.api.get <id>`.
    expect((await request('orders.api.get', orderId)).body.orderId).toBe(orderId);
  });

  it('answers errors with Nats-Service-Error-Code and the same problem body as HTTP', async () => {
    const missingKey = await request('orders.api.create', sampleOrder());
    expect(missingKey).toMatchObject({
      code: '400',
      error: expect.any(String),
      body: { code: 'IDEMPOTENCY_KEY_MISSING' },
    });
    const badJson = await request('orders.api.create', '{oops', {
      'Idempotency-Key': 'nats-bad-json',
    });
    expect(badJson).toMatchObject({ code: '400', body: { code: 'MALFORMED_JSON' } });
    const unknown = await request(
      'orders.api.create',
      { ...sampleOrder(), amount: 1 },
      { 'Idempotency-Key': 'nats-unknown' },
    );
    expect(unknown).toMatchObject({
      code: '400',
      body: { code: 'UNKNOWN_FIELD', errors: [{ pointer: '/amount' }] },
    });
    await request('orders.api.create', sampleOrder('a'), { 'Idempotency-Key': 'nats-2' });
    const reused = await request('orders.api.create', sampleOrder('b'), {
      'Idempotency-Key': 'nats-2',
    });
    expect(reused).toMatchObject({ code: '422', body: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    const notFound = await request('orders.api.get', { orderId: 'nope' });
    expect(notFound).toMatchObject({ code: '404', body: { code: 'ORDER_NOT_FOUND' } });
  });
});
