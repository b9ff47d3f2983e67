import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_FAULTS } from '../../src/payments-stub/index.js';
import { ORDERS_STREAM, WORKER_CONSUMER } from '../../src/shared/index.js';
import { waitForDlqEntry } from '../fixtures/dlq.js';
import { submitOrder, waitForStatus } from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

// Fixture settings: BACKOFF 300ms,600ms,1s and MAX_DELIVER 5.
const BACKOFF = [300, 600, 1_000];
const ctx = useStack();
beforeEach(() => {
  ctx.stack.stub.setFaults(DEFAULT_FAULTS);
});

const submit = (key: string) => submitOrder(ctx.stack.gatewayUrl, key);

const settled = (orderId: string, status: string) =>
  waitForStatus(ctx.stack.gatewayUrl, orderId, status);

describe('transient failures', () => {
  it('retries through FAILED_TRANSIENT x3 with growing gaps, then completes with one charge', async () => {
    ctx.stack.stub.setFaults({ failFirst: 3, failStatus: 503 });
    const orderId = await submit('transient-3');
    const order = await settled(orderId, 'COMPLETED');
    expect(order.history.map((h: { status: string }) => h.status)).toEqual([
      'CREATED',
      'PROCESSING',
      'FAILED_TRANSIENT',
      'PROCESSING',
      'FAILED_TRANSIENT',
      'PROCESSING',
      'FAILED_TRANSIENT',
      'PROCESSING',
      'COMPLETED',
    ]);
    expect(order.attempts).toBe(4);
    const entry = ctx.stack.stub.ledger.get(orderId)!;
    expect(entry).toMatchObject({ charges: 1, calls: 4 });
    // The gaps follow BACKOFF (+-20% jitter, plus processing time) and grow.
    const gaps = entry.callTimes.slice(1).map((t, i) => t - entry.callTimes[i]!);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(BACKOFF[i]! * 0.8 - 10);
      expect(gap).toBeLessThanOrEqual(BACKOFF[i]! * 1.2 + 150);
    });
    process.stdout.write(`gaps between payment attempts: ${gaps.join(', ')} ms\n`);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
  });
});

describe('dead letters', () => {
  it('a payment service that always answers 500 ends FAILED_PERMANENT with one DLQ entry and no further deliveries', async () => {
    ctx.stack.stub.setFaults({ failAlways: true, failStatus: 500 });
    const orderId = await submit('always-500');
    const order = await settled(orderId, 'FAILED_PERMANENT');
    const dlq = await waitForDlqEntry(ctx.nc, orderId);
    expect(dlq.count).toBe(1);
    expect(dlq.last).toMatchObject({
      orderId,
      kind: 'max_deliveries',
      reason: 'max deliveries exceeded',
      attempts: 5,
      lastError: { code: 'PAYMENT_UNAVAILABLE_500' },
      originalSubject: `orders.events.created.${orderId}`,
    });
    expect(order.lastError.code).toBe('PAYMENT_UNAVAILABLE_500');
    expect(ctx.stack.stub.ledger.get(orderId)).toMatchObject({ charges: 0, calls: 5 });
    // Nothing of it is left with the consumer: no further delivery can come.
    const jsm = await jetstreamManager(ctx.nc);
    await waitFor('consumer settled', async () => {
      const info = await jsm.consumers.info(ORDERS_STREAM, WORKER_CONSUMER);
      return info.num_ack_pending === 0 && info.num_pending === 0 ? true : undefined;
    });
    expect(ctx.stack.stub.ledger.get(orderId)!.calls).toBe(5);
  });

  it('a 402 goes straight to FAILED_PERMANENT and the DLQ after one call', async () => {
    ctx.stack.stub.setFaults({ failAlways: true, failStatus: 402 });
    const orderId = await submit('declined-402');
    const order = await settled(orderId, 'FAILED_PERMANENT');
    expect(order.history.map((h: { status: string }) => h.status)).toEqual([
      'CREATED',
      'PROCESSING',
      'FAILED_PERMANENT',
    ]);
    const dlq = await waitForDlqEntry(ctx.nc, orderId);
    expect(dlq.count).toBe(1);
    expect(dlq.last).toMatchObject({
      orderId,
      kind: 'terminated',
      attempts: 1,
      lastError: { code: 'PAYMENT_REJECTED_402' },
    });
    expect(dlq.last.reason).toMatch(/^PAYMENT_REJECTED_402/);
    expect(ctx.stack.stub.ledger.get(orderId)).toMatchObject({ charges: 0, calls: 1 });
  });

  it('a poison event is dead-lettered and the workers go on', async () => {
    const js = jetstream(ctx.nc);
    await js.publish('orders.events.created.x', 'this is not json {', { msgID: 'poison-1' });
    const dlq = await waitForDlqEntry(ctx.nc, 'x');
    // The first miss is retried once (a read may lag behind the write that made the order).
    expect(dlq.last).toMatchObject({
      kind: 'terminated',
      attempts: 2,
      originalData: 'this is not json {',
    });
    expect(dlq.last.reason).toMatch(/^ORDER_NOT_FOUND/);
    const orderId = await submit('after-poison');
    await settled(orderId, 'COMPLETED');
  });
});
