/**
 * The order actor: pure, no I/O. Callers apply events with `transition()` to a snapshot
 * rehydrated from KV and treat the returned `emit` actions as outbox events to persist with
 * the next snapshot. Timestamps arrive on the events, so the machine stays deterministic.
 */
import { assign, setup } from 'xstate';
import type { OrderContext, OrderError, OrderEventType, OrderStatus } from '../shared/index.js';

/** What an order starts from: its fixed facts, and when it was accepted. */
export type OrderInput = Pick<
  OrderContext,
  'orderId' | 'tenant' | 'customerId' | 'currency' | 'items' | 'amount' | 'correlationId'
> & { at: string; traceparent?: string };

export type OrderEvent =
  | { type: 'PAYMENT_STARTED'; at: string }
  | { type: 'PAYMENT_SUCCEEDED'; at: string; paymentId: string }
  | { type: 'PAYMENT_FAILED_TRANSIENT'; at: string; error: OrderError }
  | { type: 'PAYMENT_FAILED_PERMANENT'; at: string; error: OrderError }
  | { type: 'DEAD_LETTERED'; at: string; error: OrderError }
  | { type: 'CANCEL'; at: string }
  /** An operator sends a dead-lettered order back for processing (`nats-orders dlq redrive`). */
  | { type: 'REDRIVE'; at: string };

const enter = (status: OrderStatus) => ({ type: 'enter', params: { status } }) as const;
const emit = (event: OrderEventType) => ({ type: 'emit', params: { event } }) as const;

export const orderMachine = setup({
  types: {
    context: {} as OrderContext,
    events: {} as OrderEvent,
    input: {} as OrderInput,
  },
  actions: {
    /** Appends the new status to the history the API shows. */
    enter: assign(({ context, event }, params: { status: OrderStatus }) => ({
      history: [...context.history, { status: params.status, at: event.at }],
      updatedAt: event.at,
    })),
    countAttempt: assign(({ context }) => ({ attempts: context.attempts + 1 })),
    /** A redrive starts a new generation: the event it emits is new, so is its delivery budget. */
    startGeneration: assign(({ context }) => ({ generation: (context.generation ?? 0) + 1 })),
    recordError: assign(({ event }) => ('error' in event ? { lastError: event.error } : {})),
    recordPayment: assign(({ event }) =>
      event.type === 'PAYMENT_SUCCEEDED' ? { paymentId: event.paymentId } : {},
    ),
    /** An effect: becomes an outbox event persisted in the same write as the new snapshot. */
    emit: (_args, _params: { event: OrderEventType }) => undefined,
  },
}).createMachine({
  id: 'order',
  context: ({ input }) =>
    // The inert actor behind the pure steps (order-steps.ts) is built without input; an empty
    // context there (each step's snapshot replaces it) saves a TypeError with a stack trace.
    input === undefined
      ? ({} as OrderContext)
      : {
          orderId: input.orderId,
          tenant: input.tenant,
          customerId: input.customerId,
          currency: input.currency,
          items: input.items,
          amount: input.amount,
          attempts: 0,
          generation: 0,
          correlationId: input.correlationId,
          ...(input.traceparent ? { traceparent: input.traceparent } : {}),
          createdAt: input.at,
          updatedAt: input.at,
          history: [{ status: 'CREATED', at: input.at }],
        },
  initial: 'CREATED',
  states: {
    CREATED: {
      entry: [emit('created')],
      on: {
        PAYMENT_STARTED: { target: 'PROCESSING', actions: [enter('PROCESSING'), 'countAttempt'] },
        CANCEL: { target: 'CANCELLED', actions: [enter('CANCELLED'), emit('cancelled')] },
        DEAD_LETTERED: {
          target: 'FAILED_PERMANENT',
          actions: [enter('FAILED_PERMANENT'), 'recordError', emit('dead_lettered')],
        },
      },
    },
    PROCESSING: {
      on: {
        PAYMENT_SUCCEEDED: {
          target: 'COMPLETED',
          actions: [enter('COMPLETED'), 'recordPayment', emit('completed')],
        },
        PAYMENT_FAILED_TRANSIENT: {
          target: 'FAILED_TRANSIENT',
          actions: [enter('FAILED_TRANSIENT'), 'recordError'],
        },
        PAYMENT_FAILED_PERMANENT: {
          target: 'FAILED_PERMANENT',
          actions: [enter('FAILED_PERMANENT'), 'recordError', emit('dead_lettered')],
        },
        DEAD_LETTERED: {
          target: 'FAILED_PERMANENT',
          actions: [enter('FAILED_PERMANENT'), 'recordError', emit('dead_lettered')],
        },
      },
    },
    FAILED_TRANSIENT: {
      on: {
        PAYMENT_STARTED: { target: 'PROCESSING', actions: [enter('PROCESSING'), 'countAttempt'] },
        DEAD_LETTERED: {
          target: 'FAILED_PERMANENT',
          actions: [enter('FAILED_PERMANENT'), emit('dead_lettered')],
        },
      },
    },
    COMPLETED: { type: 'final' },
    // Terminal for the order's lifecycle, yet not final for the machine: an operator may redrive.
    FAILED_PERMANENT: {
      on: {
        REDRIVE: { target: 'CREATED', actions: [enter('CREATED'), 'startGeneration'] },
      },
    },
    CANCELLED: { type: 'final' },
  },
});
