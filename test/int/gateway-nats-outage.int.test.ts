/**
 * The gateway while NATS is down: a submission gets 503 SERVICE_UNAVAILABLE with Retry-After
 * (not a bare 500), as documented, after waiting a moment for the connection to come back
 * (RECONNECT_GRACE_MS) rather than for its steps' timeouts; /readyz says not ready; once the
 * server is back, the client's retry with the same Idempotency-Key is accepted and the order
 * completes, charged once. And the wait itself, on a real connection: a reconnect ends it.
 */
import { describe, expect, it } from 'vitest';
import { RECONNECT_GRACE_MS } from '../../src/gateway/order-service.js';
import { createRootLogger, monitorConnection } from '../../src/shared/index.js';
import { expectInvariantsHold } from '../fixtures/invariants.js';
import { call, postOrder, sampleOrder, waitForStatus } from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

const ctx = useStack();

describe('a gateway whose NATS server is down', () => {
  it('answers 503 with Retry-After, and the same request succeeds once NATS is back', async () => {
    const base = ctx.stack.gatewayUrl;
    const server = ctx.nats.servers[0]!;
    await server.kill();
    await waitFor('readyz 503', async () =>
      (await call(base, 'GET', '/readyz')).status === 503 ? true : undefined,
    );

    const started = Date.now();
    const refused = await postOrder(base, 'outage-1', sampleOrder('outage-1'));
    const refusedMs = Date.now() - started;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
    // The grace for a reconnect, not the steps' timeouts (8 s before the grace existed).
    expect(refusedMs).toBeGreaterThanOrEqual(RECONNECT_GRACE_MS);
    expect(refusedMs).toBeLessThan(RECONNECT_GRACE_MS + 1_000);
    const unknownOrder = await call(base, 'GET', '/orders/NOSUCHORDER0000000000A');
    expect(unknownOrder.status).toBe(503);

    await server.start();
    await server.waitHealthy();
    const accepted = await waitFor(
      'the retry accepted',
      async () => {
        const res = await postOrder(base, 'outage-1', sampleOrder('outage-1'));
        return res.status === 202 ? res : undefined;
      },
      30_000,
    );
    const orderId = accepted.body.orderId as string;
    await waitForStatus(base, orderId, 'COMPLETED', 30_000);
    await expectInvariantsHold(ctx.nc, ctx.stack.stub, [orderId]);
    console.log(`NATS down: POST refused with 503 after ${refusedMs} ms`);
  }, 120_000);

  it('a request waiting for the connection goes on when it comes back within the wait', async () => {
    const server = ctx.nats.servers[0]!;
    const nc = await ctx.nats.connect('outage-monitor');
    const connection = monitorConnection(nc, createRootLogger('silent'));
    expect(await connection.whenConnected(0)).toBe(true);

    await server.kill();
    await waitFor('the disconnect seen', () => (connection.connected() ? undefined : true));
    const started = Date.now();
    expect(await connection.whenConnected(300)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);

    const waiting = connection.whenConnected(30_000);
    await server.start();
    expect(await waiting).toBe(true);
    expect(connection.connected()).toBe(true);
    await server.waitHealthy();
  }, 60_000);
});
