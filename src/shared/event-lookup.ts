/**
 * Whether ORDERS holds an outbox event, by its id (the message's `Nats-Msg-Id`). Used for
 * events a write carries on from earlier writes: the relay publishes one only if ORDERS does
 * not hold it, and a redrive drops the ones it does hold, so they are not carried for ever.
 */
import type { JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import type { OutboxEvent } from './order-record.js';
import { ORDERS_STREAM } from './topology.js';

/**
 * The server's STREAM.MSG.GET takes `next_by_subj` with a start sequence (2.10+); the client's
 * type lists only `seq` and `last_by_subj` for it, and offers `next_by_subj` on direct gets
 * alone, which ORDERS does not allow.
 */
const nextOnSubject = (subject: string, seq: number) =>
  ({ next_by_subj: subject, seq }) as unknown as MsgRequest;

export function createEventLookup(jsm: JetStreamManager) {
  /**
   * One lookup when the event is the last message on its subject, the usual case. An older
   * one (the dead_lettered event of an earlier generation, once a later one was published on
   * the same subject) is found by walking the subject's messages, a few per order.
   */
  async function holds(event: OutboxEvent): Promise<boolean> {
    const last = await jsm.streams.getMessage(ORDERS_STREAM, { last_by_subj: event.subject });
    if (!last) return false;
    if (last.header.get('Nats-Msg-Id') === event.id) return true;
    for (let seq = 1; seq < last.seq;) {
      const msg = await jsm.streams.getMessage(ORDERS_STREAM, nextOnSubject(event.subject, seq));
      if (!msg || msg.seq >= last.seq) return false;
      if (msg.header.get('Nats-Msg-Id') === event.id) return true;
      seq = msg.seq + 1;
    }
    return false;
  }

  /** The ids of those of `events` that ORDERS holds. */
  async function heldAmong(events: readonly OutboxEvent[]): Promise<Set<string>> {
    const held = await Promise.all(events.map(async (e) => ((await holds(e)) ? [e.id] : [])));
    return new Set(held.flat());
  }

  return { holds, heldAmong };
}

export type EventLookup = ReturnType<typeof createEventLookup>;
