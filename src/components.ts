/**
 * Starting and stopping the system's components, each on a NATS connection of its own: used
 * by the CLI (one component per process, as in production) and by `nats-orders dev` (all of
 * them in one process). Stopping is ordered: stop taking work, finish in-flight work, drain.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createActorStore, createPaymentClient, createWorker } from './actors/index.js';
import { createGateway } from './gateway/index.js';
import {
  createDeadLetterDesk,
  createDeadLetterRouter,
  createOutboxRelay,
  type DeadLetterDesk,
} from './relay/index.js';
import {
  StartupError,
  connectNats,
  createCrashPoint,
  generationOf,
  openOrdersBucket,
  provision,
  topologySettings,
  type Config,
  type Logger,
  type NatsConnection,
  type ProvisionReport,
} from './shared/index.js';

export const COMPONENTS = ['gateway', 'worker', 'relay'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface RunningComponent {
  name: ComponentName;
  /** The HTTP base URL, for the gateway. */
  url?: string;
  /** Messages handled since start, for the worker and the relay. */
  handled?: () => number;
  stop(): Promise<void>;
}

export async function provisionTopology(
  nc: NatsConnection,
  config: Config,
): Promise<ProvisionReport> {
  return provision(await jetstreamManager(nc), topologySettings(config));
}

/** The dead-letter desk (list, show, redrive, purge) on a connection: CLI and admin API. */
export async function openDeadLetterDesk(nc: NatsConnection, log: Logger): Promise<DeadLetterDesk> {
  const js = jetstream(nc);
  const store = createActorStore({ kv: await openOrdersBucket(js) });
  return createDeadLetterDesk({
    js,
    jsm: await jetstreamManager(nc),
    log,
    redriveOrder: async (orderId, generation) => {
      const result = await store.update(orderId, (record) =>
        record.status === 'FAILED_PERMANENT' && generationOf(record) === generation
          ? { type: 'REDRIVE', at: new Date().toISOString() }
          : undefined,
      );
      if (result.kind === 'missing') return undefined;
      return { record: result.order.record, applied: result.kind === 'applied' };
    },
  });
}

async function startOn(
  name: ComponentName,
  nc: NatsConnection,
  config: Config,
  log: Logger,
): Promise<RunningComponent> {
  const js = jetstream(nc);
  // Fault tests only: with no CRASH_POINT configured, every point is a no-op.
  const crashPoint = createCrashPoint(config.crash);
  switch (name) {
    case 'gateway': {
      const deadLetters = await openDeadLetterDesk(nc, log);
      const gateway = await createGateway({ nc, config, log, deadLetters, crashPoint });
      const url = await gateway.start();
      return { name, url, stop: () => gateway.stop() };
    }
    case 'worker': {
      if (!config.paymentUrl) throw new StartupError('PAYMENT_URL is required to run a worker');
      const payments = createPaymentClient({
        baseUrl: config.paymentUrl,
        timeoutMs: config.paymentTimeoutMs,
        connections: config.workerConcurrency,
      });
      const worker = createWorker({
        js,
        store: createActorStore({ kv: await openOrdersBucket(js) }),
        payments,
        log,
        config,
        crashPoint,
      });
      await worker.start();
      return {
        name,
        handled: () => worker.handled(),
        async stop() {
          await worker.stop();
          await payments.close();
        },
      };
    }
    case 'relay': {
      // A relay process also runs the dead-letter router: both are "move what is stored on".
      const ordersKv = await openOrdersBucket(js);
      const store = createActorStore({ kv: ordersKv });
      const relay = createOutboxRelay({ js, ordersKv, log, crashPoint });
      const router = createDeadLetterRouter({
        js,
        jsm: await jetstreamManager(nc),
        log,
        crashPoint,
        deadLetterOrder: async (orderId, error, generation) => {
          const result = await store.update(orderId, (record) =>
            generationOf(record) === generation
              ? { type: 'DEAD_LETTERED', at: new Date().toISOString(), error }
              : undefined,
          );
          return result.kind === 'missing' ? undefined : result.order.record;
        },
      });
      await relay.start();
      await router.start();
      return {
        name,
        handled: () => relay.handled(),
        async stop() {
          await router.stop();
          await relay.stop();
        },
      };
    }
  }
}

/** Connects, provisions (idempotent) when asked, and starts one component. */
export async function startComponent(
  name: ComponentName,
  opts: { config: Config; log: Logger; provision?: boolean },
): Promise<RunningComponent> {
  const log = opts.log.child({ component: name });
  const nc = await connectNats(opts.config, `nats-orders-${name}`, log);
  try {
    if (opts.provision !== false) await provisionTopology(nc, opts.config);
    const component = await startOn(name, nc, opts.config, opts.log);
    return {
      ...component,
      async stop() {
        await component.stop();
        await nc.drain();
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}
