/**
 * The gateway while NATS is down: a submission gets 503 SERVICE_UNAVAILABLE with Retry-After
 * (not a bare 500), as documented; /readyz says not ready; once the server is back, the client's
 * retry with the same Idempotency-Key is accepted and the order completes, charged once.
 */
import { describe, expect, it } from 'vitest';
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
    // Bounded by the JetStream request timeout, not hanging until the client gives up.
    expect(refusedMs).toBeLessThan(15_000);

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
});
