import { describe, expect, it } from 'vitest';
import { initialRecord, nextRecord } from '../../src/actors/actor-store.js';
import { emittedByThisWrite, lifecyclePosition, type OrderRecord } from '../../src/shared/index.js';
import { orderInput as input } from '../fixtures/order-input.js';

function step(record: OrderRecord, event: Parameters<typeof nextRecord>[1]): OrderRecord {
  const next = nextRecord(record, event);
  if (!next) throw new Error(`${event.type} refused in ${record.status}`);
  return next;
}

describe('order machine', () => {
  it('starts CREATED with a created event in the outbox', () => {
    const record = initialRecord(input);
    expect(record.status).toBe('CREATED');
    expect(record.context.history).toEqual([{ status: 'CREATED', at: input.at }]);
    expect(record.outbox).toEqual([
      {
        id: 'o1:1:0:created',
        subject: 'orders.events.created.o1',
        type: 'created',
        data: {
          orderId: 'o1',
          tenant: 't1',
          status: 'CREATED',
          at: input.at,
          correlationId: 'corr-1',
          generation: 0,
        },
      },
    ]);
  });

  it('runs the success path, carrying earlier outbox events on and counting attempts', () => {
    let record = initialRecord(input);
    record = step(record, { type: 'PAYMENT_STARTED', at: 't2' });
    expect(record.status).toBe('PROCESSING');
    expect(record.context.attempts).toBe(1);
    expect(record.outbox.map((e) => e.type)).toEqual(['created']);
    record = step(record, { type: 'PAYMENT_SUCCEEDED', at: 't3', paymentId: 'pay_1' });
    expect(record.status).toBe('COMPLETED');
    expect(record.context.paymentId).toBe('pay_1');
    expect(record.context.history.map((h) => h.status)).toEqual([
      'CREATED',
      'PROCESSING',
      'COMPLETED',
    ]);
    expect(record.outbox.map((e) => e.id)).toEqual(['o1:1:0:created', 'o1:3:0:completed']);
  });

  it('drops the carried events the writer knows are published, and only those', () => {
    const created = initialRecord(input);
    const processing = nextRecord(
      created,
      { type: 'PAYMENT_STARTED', at: 't2' },
      new Set(['o1:1:0:created']),
    )!;
    expect(processing.outbox).toEqual([]);
    const other = nextRecord(
      created,
      { type: 'PAYMENT_STARTED', at: 't2' },
      new Set(['o1:9:0:created']),
    )!;
    expect(other.outbox.map((e) => e.id)).toEqual(['o1:1:0:created']);
    const cancelled = step(created, { type: 'CANCEL', at: 't2' });
    expect(cancelled.outbox.map((e) => [e.id, emittedByThisWrite(cancelled, e)])).toEqual([
      ['o1:1:0:created', false],
      ['o1:2:0:cancelled', true],
    ]);
  });

  it('retries through FAILED_TRANSIENT and records the error', () => {
    let record = step(initialRecord(input), { type: 'PAYMENT_STARTED', at: 't2' });
    record = step(record, {
      type: 'PAYMENT_FAILED_TRANSIENT',
      at: 't3',
      error: { code: 'HTTP_503', message: 'down' },
    });
    expect(record.status).toBe('FAILED_TRANSIENT');
    expect(record.context.lastError).toEqual({ code: 'HTTP_503', message: 'down' });
    record = step(record, { type: 'PAYMENT_STARTED', at: 't4' });
    expect(record.context.attempts).toBe(2);
  });

  it('refuses events that do not apply, and terminal states accept nothing', () => {
    const created = initialRecord(input);
    expect(
      nextRecord(created, { type: 'PAYMENT_SUCCEEDED', at: 't', paymentId: 'p' }),
    ).toBeUndefined();
    const processing = step(created, { type: 'PAYMENT_STARTED', at: 't2' });
    expect(nextRecord(processing, { type: 'CANCEL', at: 't3' })).toBeUndefined();
    const completed = step(processing, { type: 'PAYMENT_SUCCEEDED', at: 't3', paymentId: 'p' });
    for (const event of [
      { type: 'PAYMENT_STARTED', at: 't4' },
      { type: 'CANCEL', at: 't4' },
      { type: 'DEAD_LETTERED', at: 't4', error: { code: 'X', message: 'x' } },
      { type: 'REDRIVE', at: 't4' },
    ] as const) {
      expect(nextRecord(completed, event)).toBeUndefined();
    }
  });

  it('cancels only from CREATED', () => {
    const cancelled = step(initialRecord(input), { type: 'CANCEL', at: 't2' });
    expect(cancelled.status).toBe('CANCELLED');
    expect(cancelled.outbox.map((e) => e.type)).toEqual(['created', 'cancelled']);
  });

  it('redrives only from FAILED_PERMANENT, into a new generation with a new created event', () => {
    let record = step(initialRecord(input), { type: 'PAYMENT_STARTED', at: 't2' });
    expect(nextRecord(record, { type: 'REDRIVE', at: 't3' })).toBeUndefined();
    const error = { code: 'HTTP_500', message: 'down' };
    record = step(record, { type: 'PAYMENT_FAILED_TRANSIENT', at: 't3', error });
    record = step(record, { type: 'DEAD_LETTERED', at: 't4', error });
    expect(record.status).toBe('FAILED_PERMANENT');
    // The relay has published everything so far.
    record = { ...record, outbox: [] };

    const redriven = step(record, { type: 'REDRIVE', at: 't5' });
    expect(redriven.status).toBe('CREATED');
    expect(redriven.context.generation).toBe(1);
    expect(redriven.context.attempts).toBe(1);
    expect(redriven.context.history.map((h) => h.status)).toEqual([
      'CREATED',
      'PROCESSING',
      'FAILED_TRANSIENT',
      'FAILED_PERMANENT',
      'CREATED',
    ]);
    // A new id, so the broker stores a new message and the consumer a new delivery budget.
    expect(redriven.outbox).toEqual([
      expect.objectContaining({
        id: 'o1:5:0:created',
        subject: 'orders.events.created.o1',
        data: expect.objectContaining({ status: 'CREATED', generation: 1 }) as unknown,
      }),
    ]);
    expect(lifecyclePosition(redriven)).toBeGreaterThan(lifecyclePosition(record));

    const started = step(redriven, { type: 'PAYMENT_STARTED', at: 't6' });
    expect(started.context.attempts).toBe(2);
    expect(step(started, { type: 'PAYMENT_SUCCEEDED', at: 't7', paymentId: 'p' }).status).toBe(
      'COMPLETED',
    );
  });
});
