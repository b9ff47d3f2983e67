/**
 * Pulls from a durable JetStream consumer and runs a handler on each message with bounded
 * concurrency. Shared by the worker, the outbox relay and the dead-letter router, so each of
 * them only says what one message means.
 *
 * Pulls ask for exactly as many messages as there are free handler slots (`fetch`), never
 * more, once at least a quarter of the slots are free: nothing waits in a client-side buffer. That is what makes a clean stop clean: with
 * `consume()`, messages buffered or in flight when the subscription closes are dropped by the
 * client and redelivered only after the ack wait (seen: 12 of 200 on a stop under load). Here
 * a stop lets the open pull run out (at most FETCH_EXPIRES_MS), handles what it brought, and
 * waits for the handlers.
 */
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from './logger.js';

export interface ConsumeLoop {
  /** Stops pulling, handles what the last pull brings, waits for the handlers, then resolves. */
  stop(): Promise<void>;
  /** Handlers running right now. */
  inFlight(): number;
  /** Messages handled since start. */
  handled(): number;
}

/** How long one pull waits for messages: the most a stop waits for the pull it interrupts. */
export const FETCH_EXPIRES_MS = 1_000;

export async function startConsumeLoop(opts: {
  consumer: Consumer;
  concurrency: number;
  handle: (msg: JsMsg) => Promise<void>;
  log: Logger;
}): Promise<ConsumeLoop> {
  const { consumer, concurrency, handle, log } = opts;
  const running = new Set<Promise<void>>();
  let handled = 0;
  let stopping = false;
  // Pull again once a quarter of the slots are free, not at every free slot: under full load a
  // pull per message would cost a pull request (and its server-side waiting request) each.
  const refillAt = Math.max(1, Math.floor(concurrency / 4));
  let slotFreed: (() => void) | undefined;

  function start(msg: JsMsg): void {
    const task: Promise<void> = handle(msg)
      .catch((err: unknown) => log.error({ err, seq: msg.seq }, 'message handler failed'))
      .finally(() => {
        handled++;
        running.delete(task);
        const wake = slotFreed;
        slotFreed = undefined;
        wake?.();
      });
    running.add(task);
  }

  const loop = (async () => {
    while (!stopping) {
      while (concurrency - running.size < refillAt)
        await new Promise<void>((resolve) => (slotFreed = resolve));
      if (stopping) break;
      try {
        const pull = await consumer.fetch({
          max_messages: concurrency - running.size,
          expires: FETCH_EXPIRES_MS,
        });
        for await (const msg of pull) start(msg);
      } catch (err) {
        if (stopping) break;
        // Typically a reconnect or a consumer leader change: pull again shortly.
        log.warn({ err }, 'pull failed; retrying');
        await delay(250);
      }
    }
  })();

  return {
    inFlight: () => running.size,
    handled: () => handled,
    async stop() {
      stopping = true;
      await loop;
      await Promise.allSettled([...running]);
    },
  };
}
