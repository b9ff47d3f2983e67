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
  ORDERS_STREAM,
  WORKER_CONSUMER,
  connectNats,
  createCrashPoint,
  createEventLookup,
  createMetrics,
  monitorConnection,
  probeConsumerBacklog,
  probeOutbox,
  startMetricsServer,
  generationOf,
  openOrdersBucket,
  provision,
  retryWhileNotReady,
  REQUEST_STEP_TIMEOUT_MS,
  topologySettings,
  type Config,
  type ConnectionMonitor,
  type Logger,
  type Metrics,
  type NatsConnection,
  type ProvisionReport,
} from './shared/index.js';

export const COMPONENTS = ['gateway', 'worker', 'relay'] as const;
export type ComponentName = (typeof COMPONENTS)[number];

export interface RunningComponent {
  name: ComponentName;
  /** The HTTP base URL, for the gateway. */
  url?: string;
  /** Where a worker or relay serves /metrics, when METRICS_PORT is set. */
  metricsUrl?: string;
  /** Messages handled since start, for the worker and the relay. */
  handled?: () => number;
  stop(): Promise<void>;
}

export async function provisionTopology(
  nc: NatsConnection,
  config: Config,
  log?: Logger,
): Promise<ProvisionReport> {
  const jsm = await jetstreamManager(nc);
  return retryWhileNotReady('provisioning', () => provision(jsm, topologySettings(config)), {
    log,
  });
}

/** The dead-letter desk (list, show, redrive, purge) on a connection: CLI and admin API. */
export async function openDeadLetterDesk(nc: NatsConnection, log: Logger): Promise<DeadLetterDesk> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const store = createActorStore({ kv: await openOrdersBucket(js) });
  const events = createEventLookup(jsm);
  return createDeadLetterDesk({
    js,
    jsm,
    log,
    redriveOrder: async (orderId, generation) => {
      const current = await store.load(orderId);
      if (!current) return undefined;
      // The carried events ORDERS holds (this generation's dead_lettered one, usually) are not
      // carried into the next generation: each redrive would add one to every later write.
      const published = await events.heldAmong(current.record.outbox);
      const result = await store.update(
        orderId,
        (record) =>
          record.status === 'FAILED_PERMANENT' && generationOf(record) === generation
            ? { type: 'REDRIVE', at: new Date().toISOString() }
            : undefined,
        { lastKnown: current, published },
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
  metrics: Metrics,
  connection: ConnectionMonitor,
): Promise<RunningComponent> {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  metrics.probeConnection(name, () => connection.connected());
  // Fault tests only: with no CRASH_POINT configured, every point is a no-op.
  const crashPoint = createCrashPoint(config.crash);
  switch (name) {
    case 'gateway': {
      const deadLetters = await openDeadLetterDesk(nc, log);
      const gateway = await createGateway({
        nc,
        config,
        log,
        deadLetters,
        crashPoint,
        metrics,
        connection,
      });
      const url = await gateway.start();
      return { name, url, stop: () => gateway.stop() };
    }
    case 'worker': {
      if (!config.paymentUrl) throw new StartupError('PAYMENT_URL is required to run a worker');
      // The worker's steps are retried on a timeout (retryWhileUnavailable), as the gateway's.
      const kv = await openOrdersBucket(jetstream(nc, { timeout: REQUEST_STEP_TIMEOUT_MS }));
      const payments = createPaymentClient({
        baseUrl: config.paymentUrl,
        timeoutMs: config.paymentTimeoutMs,
        connections: config.workerConcurrency,
      });
      const worker = createWorker({
        js,
        store: createActorStore({ kv, metrics }),
        payments,
        log,
        config,
        crashPoint,
        metrics,
      });
      probeConsumerBacklog(metrics, jsm, ORDERS_STREAM, WORKER_CONSUMER);
      // A start that fails is retried on the same connection (retryWhileNotReady): close the
      // payment client's connection pool, or each retry leaves one open.
      await worker.start().catch(async (err: unknown) => {
        await payments.close();
        throw err;
      });
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
      const store = createActorStore({ kv: ordersKv, metrics });
      const relay = createOutboxRelay({ js, jsm, log, crashPoint });
      const router = createDeadLetterRouter({
        js,
        jsm,
        log,
        crashPoint,
        metrics,
        deadLetterOrder: async (orderId, error, generation) => {
          const result = await store.update(orderId, (record) =>
            generationOf(record) === generation
              ? { type: 'DEAD_LETTERED', at: new Date().toISOString(), error }
              : undefined,
          );
          return result.kind === 'missing' ? undefined : result.order.record;
        },
      });
      probeOutbox(metrics, jsm);
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
  opts: {
    config: Config;
    log: Logger;
    provision?: boolean;
    /** The process's metrics; components of one process share them (as in `dev`). */
    metrics?: Metrics;
  },
): Promise<RunningComponent> {
  const { config } = opts;
  const log = opts.log.child({ component: name });
  const metrics = opts.metrics ?? createMetrics();
  const nc = await connectNats(config, `nats-orders-${name}`, log);
  try {
    if (opts.provision !== false) await provisionTopology(nc, config, log);
    const connection = monitorConnection(nc, log);
    // Opening buckets and consumers is retried while a (re)starting cluster elects leaders.
    const component = await retryWhileNotReady(
      `starting the ${name}`,
      () => startOn(name, nc, config, opts.log, metrics, connection),
      { log },
    );
    // A worker or relay offers /metrics on METRICS_PORT; the gateway on its HTTP port.
    const metricsServer =
      name !== 'gateway' && config.metricsPort !== undefined
        ? await startMetricsServer({
            metrics,
            host: config.httpHost,
            port: config.metricsPort,
            log,
          })
        : undefined;
    return {
      ...component,
      ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
      async stop() {
        await component.stop();
        await metricsServer?.close();
        await nc.drain();
      },
    };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/**
 * A relay, a worker and a gateway in one process, on one metrics registry (the gateway's
 * /metrics shows them all): `nats-orders all` and `dev`. Stopping goes gateway first (no new
 * orders), then the worker (its in-flight payments), then the relay (it publishes the events
 * those produced). If one fails to start, the ones started are stopped.
 */
export async function startAllComponents(opts: {
  config: Config;
  log: Logger;
  provision?: boolean;
}): Promise<{ components: RunningComponent[]; stop(): Promise<void> }> {
  const metrics = createMetrics();
  // The gateway serves everyone's metrics on its HTTP port: a second server would want the
  // same METRICS_PORT.
  const config: Config = { ...opts.config, metricsPort: undefined };
  const components: RunningComponent[] = [];
  const stop = async () => {
    for (const c of [...components].reverse()) await c.stop();
  };
  try {
    for (const name of ['relay', 'worker', 'gateway'] as const) {
      const provision = opts.provision !== false && name === 'relay'; // once is enough
      components.push(await startComponent(name, { config, log: opts.log, provision, metrics }));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { components, stop };
}
