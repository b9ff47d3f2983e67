/**
 * A worker killed (SIGKILL) during an order's last allowed attempt: no ack, no nak, no term.
 * The server still counts the delivery, emits MAX_DELIVERIES when the ack wait runs out, and
 * the dead-letter router moves the order (stuck in PROCESSING) to FAILED_PERMANENT. The call
 * the dead worker made charges after it died (an unknown outcome); a redrive then completes
 * the order with that charge, not a second one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAllCli, spawnCli } from '../fixtures/cli-process.js';
import { waitForDlqEntry } from '../fixtures/dlq.js';
import { call, submitOrder, waitForStatus } from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

const ADMIN_KEY = 'admin-secret-key';
// Fixture settings: BACKOFF 300ms,600ms,1s and MAX_DELIVER 5. No worker in the test process.
const ctx = useStack({ stack: { workers: 0, env: { ADMIN_API_KEY: ADMIN_KEY } } });
afterAll(killAllCli);

describe('worker death during the last attempt', () => {
  it('dead-letters the order once, and a redrive completes it with the charge the dead worker made', async () => {
    const { stub } = ctx.stack;
    stub.setFaults({ failAlways: true, failStatus: 503 });
    const worker = spawnCli(['worker', '--no-provision'], {
      NATS_URL: ctx.nats.urls.join(','),
      PAYMENT_URL: ctx.stack.config.paymentUrl!,
      BACKOFF: '300ms,600ms,1s',
      MAX_DELIVER: '5',
    });
    await worker.waitForOutput(/worker consuming/);
    const orderId = await submitOrder(ctx.stack.gatewayUrl, 'last-attempt-death');

    // Four failed attempts; the fifth call hangs for 4 s, then succeeds (the service charges).
    await waitFor('four failed calls', () =>
      (stub.ledger.get(orderId)?.calls ?? 0) >= 4 ? true : undefined,
    );
    stub.setFaults({ failAlways: false, latencyMs: 4_000 });
    await waitFor('the fifth call', () =>
      stub.ledger.get(orderId)?.calls === 5 ? true : undefined,
    );
    await worker.stop('SIGKILL');
    expect((await call(ctx.stack.gatewayUrl, 'GET', `/orders/${orderId}`)).body.status).toBe(
      'PROCESSING',
    );
    // The surviving fleet: another worker. The server raises MAX_DELIVERIES when it would
    // redeliver, which needs a waiting pull (checked on 2.12.15), and never gives it the order.
    await ctx.stack.add('worker');

    const order = await waitForStatus(ctx.stack.gatewayUrl, orderId, 'FAILED_PERMANENT');
    expect(order.history.at(-2).status).toBe('PROCESSING');
    const dlq = await waitForDlqEntry(ctx.nc, orderId);
    expect(dlq.count).toBe(1);
    expect(dlq.last).toMatchObject({
      orderId,
      kind: 'max_deliveries',
      attempts: 5,
      // The last attempt never reported back: the error is the retry budget running out.
      lastError: { code: 'MAX_DELIVERIES_EXCEEDED' },
    });

    // The dead worker's call lands: the service charged an order we gave up on.
    await waitFor('the late charge', () =>
      stub.ledger.get(orderId)?.charges === 1 ? true : undefined,
    );
    stub.setFaults({ latencyMs: 0 });
    expect(stub.ledger.get(orderId)?.calls).toBe(5);
    const redriven = await call(ctx.stack.gatewayUrl, 'POST', `/admin/dlq/${orderId}/redrive`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(redriven.body).toMatchObject({ outcome: 'redriven' });
    const completed = await waitForStatus(ctx.stack.gatewayUrl, orderId, 'COMPLETED');
    expect(completed.attempts).toBe(6);
    expect(stub.ledger.get(orderId)).toMatchObject({ charges: 1, calls: 6 });
  });
});
