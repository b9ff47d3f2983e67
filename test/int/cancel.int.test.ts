/**
 * Cancel (design.md section 3): only a CREATED order (no payment attempted) can be cancelled;
 * any other status answers 409 and changes nothing; a cancelled order's event is acked by the
 * worker without a payment call. The stack starts without a worker so orders stay CREATED.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FAULTS } from '../../src/payments-stub/index.js';
import {
  ORDERS_BUCKET,
  ORDERS_STREAM,
  WORKER_CONSUMER,
  eventSubject,
} from '../../src/shared/index.js';
import { call, natsRequest, submitOrder, waitForStatus } from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

const ctx = useStack({ stack: { workers: 0 } });

const submit = (key: string) => submitOrder(ctx.stack.gatewayUrl, key);

const cancel = (orderId: string) => call(ctx.stack.gatewayUrl, 'POST', `/orders/${orderId}/cancel`);

/** The order's KV revision: a write by anyone (the relay never writes) changes it. */
async function revisionOf(orderId: string): Promise<number> {
  const kv = await new Kvm(ctx.nc).open(ORDERS_BUCKET);
  return (await kv.get(orderId))!.revision;
}

describe('cancel', () => {
  it('cancels CREATED orders over HTTP and NATS, idempotently; the worker then acks them without a payment call', async () => {
    const overHttp = await submit('cancel-http');
    const overNats = await submit('cancel-nats');

    const first = await cancel(overHttp);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ orderId: overHttp, status: 'CANCELLED', attempts: 0 });
    expect(first.body.history.map((h: { status: string }) => h.status)).toEqual([
      'CREATED',
      'CANCELLED',
    ]);
    // A retried cancel (the client timed out) gets the same answer and changes nothing.
    const revision = await revisionOf(overHttp);
    const again = await cancel(overHttp);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await revisionOf(overHttp)).toBe(revision);

    const viaNats = await natsRequest(ctx.nc, 'orders.api.cancel', { orderId: overNats });
    expect(viaNats.code).toBeUndefined();
    expect(viaNats.body).toMatchObject({ orderId: overNats, status: 'CANCELLED' });
    expect((await natsRequest(ctx.nc, 'orders.api.cancel', overNats)).body.status).toBe(
      'CANCELLED',
    );

    // The relay publishes the cancelled events.
    const jsm = await jetstreamManager(ctx.nc);
    for (const orderId of [overHttp, overNats]) {
      await waitFor(`cancelled event of ${orderId}`, async () =>
        jsm.streams.getMessage(ORDERS_STREAM, {
          last_by_subj: eventSubject('cancelled', orderId),
        }),
      );
    }

    // Now a worker comes: it takes both created events and acks them without paying.
    await ctx.stack.add('worker');
    await waitFor('created events acked', async () => {
      const info = await jsm.consumers.info(ORDERS_STREAM, WORKER_CONSUMER);
      return info.num_pending === 0 &&
        info.num_ack_pending === 0 &&
        info.delivered.consumer_seq >= 2
        ? info
        : undefined;
    });
    for (const orderId of [overHttp, overNats]) {
      expect(ctx.stack.stub.ledger.get(orderId)).toBeUndefined();
      expect((await call(ctx.stack.gatewayUrl, 'GET', `/orders/${orderId}`)).body.status).toBe(
        'CANCELLED',
      );
    }
    // The CANCELLED write carries the created event on (no worker had consumed it); the relay
    // finds it in ORDERS and does not publish it again: one of each event per order.
    const { state } = await jsm.streams.info(ORDERS_STREAM, { subjects_filter: 'orders.events.>' });
    for (const orderId of [overHttp, overNats])
      for (const type of ['created', 'cancelled'] as const)
        expect(state.subjects?.[eventSubject(type, orderId)], `${type} ${orderId}`).toBe(1);
  });

  it('refuses with 409 ORDER_NOT_CANCELLABLE in every other status, changing nothing', async () => {
    const stub = ctx.stack.stub;
    const refused = async (orderId: string, status: string) => {
      const revision = await revisionOf(orderId);
      const res = await cancel(orderId);
      expect(res.status, status).toBe(409);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 409, code: 'ORDER_NOT_CANCELLABLE' });
      expect(res.body.detail).toContain(`the order is ${status}`);
      const nats = await natsRequest(ctx.nc, 'orders.api.cancel', orderId);
      expect(nats.code).toBe('409');
      expect(nats.body.code).toBe('ORDER_NOT_CANCELLABLE');
      expect(await revisionOf(orderId), `${status}: nothing written`).toBe(revision);
    };
    if (!ctx.stack.components.some((c) => c.name === 'worker')) await ctx.stack.add('worker');

    // PROCESSING: a slow payment call is under way.
    stub.setFaults({ ...DEFAULT_FAULTS, latencyMs: 2_500 });
    const processing = await submit('cancel-processing');
    await waitForStatus(ctx.stack.gatewayUrl, processing, 'PROCESSING');
    await refused(processing, 'PROCESSING');
    await waitForStatus(ctx.stack.gatewayUrl, processing, 'COMPLETED');
    // A 2.5 s call with BACKOFF 300ms: working() kept the message, no second worker called.
    expect(stub.ledger.get(processing)).toMatchObject({ charges: 1, calls: 1 });

    // FAILED_TRANSIENT: the service asked to come back in 3 s.
    stub.setFaults({ ...DEFAULT_FAULTS, failFirst: 1, failStatus: 503, retryAfterSec: 3 });
    const transient = await submit('cancel-transient');
    await waitForStatus(ctx.stack.gatewayUrl, transient, 'FAILED_TRANSIENT');
    await refused(transient, 'FAILED_TRANSIENT');

    // COMPLETED.
    stub.setFaults(DEFAULT_FAULTS);
    const completed = await submit('cancel-completed');
    await waitForStatus(ctx.stack.gatewayUrl, completed, 'COMPLETED');
    await refused(completed, 'COMPLETED');

    // FAILED_PERMANENT: the card was declined.
    stub.setFaults({ ...DEFAULT_FAULTS, failAlways: true, failStatus: 402 });
    const declined = await submit('cancel-declined');
    await waitForStatus(ctx.stack.gatewayUrl, declined, 'FAILED_PERMANENT');
    await refused(declined, 'FAILED_PERMANENT');
    stub.setFaults(DEFAULT_FAULTS);

    await waitForStatus(ctx.stack.gatewayUrl, transient, 'COMPLETED');
    expect(stub.ledger.get(transient)).toMatchObject({ charges: 1 });
  });

  it('answers 404 for an unknown or malformed order id', async () => {
    expect((await cancel('no-such-order')).body).toMatchObject({
      status: 404,
      code: 'ORDER_NOT_FOUND',
    });
    expect((await cancel('bad.id')).status).toBe(404);
    const nats = await natsRequest(ctx.nc, 'orders.api.cancel', 'no-such-order');
    expect(nats.code).toBe('404');
    const empty = await natsRequest(ctx.nc, 'orders.api.cancel', '');
    expect(empty.code).toBe('400');
  });
});
