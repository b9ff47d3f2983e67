import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import { startStack, type Stack } from '../fixtures/stack.js';
import { SAMPLE_AMOUNT, getOrder, postOrder } from '../fixtures/orders-client.js';
import { waitFor } from '../fixtures/wait.js';

describe.each([1, 3] as const)('success flow over HTTP on %i node(s)', (size) => {
  let nats: NatsFixture;
  let stack: Stack;

  beforeAll(async () => {
    nats = await startNats({ size });
    stack = await startStack(nats);
  });
  afterAll(async () => {
    await stack?.stop();
    await nats?.stop();
  });

  it('accepts an order with 202 and completes it with exactly one charge', async () => {
    const accepted = await postOrder(stack.gatewayUrl, `k-${size}`);
    expect(accepted.status).toBe(202);
    const { orderId } = accepted.body;
    expect(accepted.body).toEqual({
      orderId,
      status: 'CREATED',
      amount: SAMPLE_AMOUNT,
      currency: 'USD',
    });
    expect(accepted.headers.get('location')).toBe(`/orders/${orderId}`);

    const completed = await waitFor('order COMPLETED', async () => {
      const res = await getOrder(stack.gatewayUrl, orderId);
      return res.body.status === 'COMPLETED' ? res : undefined;
    });
    expect(completed.status).toBe(200);
    expect(completed.body).toMatchObject({
      orderId,
      status: 'COMPLETED',
      amount: SAMPLE_AMOUNT,
      currency: 'USD',
      attempts: 1,
    });
    expect(completed.body.history.map((h: { status: string }) => h.status)).toEqual([
      'CREATED',
      'PROCESSING',
      'COMPLETED',
    ]);
    const entry = stack.stub.ledger.get(orderId);
    expect(entry).toMatchObject({ charges: 1, calls: 1, amount: SAMPLE_AMOUNT, currency: 'USD' });
  });
});
