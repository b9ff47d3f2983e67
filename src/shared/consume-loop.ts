/**
 * Pulls from a durable JetStream consumer and runs a handler on each message with bounded
 * concurrency. Shared by the worker, the outbox relay and the dead-letter router, so each of
 * them only says what one message means.
 */
import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import type { Logger } from './logger.js';

export interface ConsumeLoop {
  /** Stops pulling, waits for the handlers already running, then resolves. */
  stop(): Promise<void>;
  /** Handlers running right now. */
  inFlight(): number;
  /** Messages handled since start. */
  handled(): number;
}

export async function startConsumeLoop(opts: {
  consumer: Consumer;
  concurrency: number;
  handle: (msg: JsMsg) => Promise<void>;
  log: Logger;
}): Promise<ConsumeLoop> {
  const { concurrency, handle, log } = opts;
  const running = new Set<Promise<void>>();
  let handled = 0;
  const messages: ConsumerMessages = await opts.consumer.consume({ max_messages: concurrency });

  const loop = (async () => {
    for await (const msg of messages) {
      while (running.size >= concurrency) await Promise.race(running);
      const task: Promise<void> = handle(msg)
        .catch((err: unknown) => log.error({ err, seq: msg.seq }, 'message handler failed'))
        .finally(() => {
          handled++;
          running.delete(task);
        });
      running.add(task);
    }
  })();

  return {
    inFlight: () => running.size,
    handled: () => handled,
    async stop() {
      await messages.close();
      await loop;
      await Promise.allSettled([...running]);
    },
  };
}
