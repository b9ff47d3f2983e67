/**
 * The order machine's fast steps (one shared inert scope) must compute exactly what XState's
 * own pure `transition()` / `initialTransition()` compute, for any sequence of events.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { orderInitialTransition, orderTransition } from '../../src/actors/order-steps.js';
import { orderMachine, type OrderEvent } from '../../src/actors/order.machine.js';
import { orderInput as input } from '../fixtures/order-input.js';

const error = { code: 'E', message: 'e' };
const at = fc.integer({ min: 0, max: 10_000 }).map((s) => new Date(1e12 + s * 1000).toISOString());
const event: fc.Arbitrary<OrderEvent> = fc.oneof(
  at.map((t) => ({ type: 'PAYMENT_STARTED' as const, at: t })),
  at.map((t) => ({ type: 'PAYMENT_SUCCEEDED' as const, at: t, paymentId: 'p1' })),
  at.map((t) => ({ type: 'PAYMENT_FAILED_TRANSIENT' as const, at: t, error })),
  at.map((t) => ({ type: 'PAYMENT_FAILED_PERMANENT' as const, at: t, error })),
  at.map((t) => ({ type: 'DEAD_LETTERED' as const, at: t, error })),
  at.map((t) => ({ type: 'CANCEL' as const, at: t })),
  at.map((t) => ({ type: 'REDRIVE' as const, at: t })),
);

/** What a step is judged by: the state, the context and the actions, not object identity. */
const observable = ([snapshot, actions]: [
  { value: unknown; context: unknown; status: string },
  ReadonlyArray<{ type: string; params?: unknown }>,
]) => ({
  value: snapshot.value,
  status: snapshot.status,
  context: snapshot.context,
  actions: actions.map(({ type, params }) => ({ type, params })),
});

describe('order steps', () => {
  it('start like initialTransition()', () => {
    expect(observable(orderInitialTransition(input))).toEqual(
      observable(initialTransition(orderMachine, input)),
    );
  });

  it('step like transition() for any sequence of events', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 12 }), (events) => {
        let ours = orderInitialTransition(input)[0];
        let theirs = initialTransition(orderMachine, input)[0];
        for (const e of events) {
          const fast = orderTransition(ours, e);
          const reference = transition(orderMachine, theirs, e);
          expect(observable(fast)).toEqual(observable(reference));
          [ours, theirs] = [fast[0], reference[0]];
        }
      }),
      { numRuns: 500 },
    );
  });
});
