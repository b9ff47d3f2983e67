/**
 * The gateway component: HTTP API and NATS request-reply API over one NATS connection.
 * `createGateway` binds the buckets; `start` listens; `stop` stops taking requests and lets
 * the ones in flight finish (the caller drains the connection afterwards).
 */
import type { FastifyInstance } from 'fastify';
import { jetstream } from '@nats-io/jetstream';
import { createActorStore } from '../actors/index.js';
import type { DeadLetterDesk } from '../relay/index.js';
import {
  REQUEST_STEP_TIMEOUT_MS,
  StartupError,
  monitorConnection,
  noCrashPoints,
  openIdempotencyBucket,
  openOrdersBucket,
  type Config,
  type ConnectionMonitor,
  type CrashPoint,
  type Metrics,
  type Logger,
  type NatsConnection,
} from '../shared/index.js';
import { buildApp } from './app.js';
import { createAuthenticator, createIdentifier } from './auth.js';
import { createIdempotencyStore } from './idempotency.js';
import { startNatsApi } from './nats-api.js';
import { acceptedResponseFrom, createOrderService } from './order-service.js';

export interface Gateway {
  app: FastifyInstance;
  /** Listens on HTTP; returns the base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export async function createGateway(deps: {
  nc: NatsConnection;
  config: Pick<
    Config,
    | 'httpHost'
    | 'httpPort'
    | 'apiKeys'
    | 'devMode'
    | 'adminApiKey'
    | 'idempotencyLeaseMs'
    | 'rateLimitPerSecond'
  >;
  log: Logger;
  crashPoint?: CrashPoint;
  /** Serves the admin API over the dead-letter queue when given. */
  deadLetters?: DeadLetterDesk;
  metrics?: Metrics;
  /** The connection's state, when the caller already watches it. */
  connection?: ConnectionMonitor;
}): Promise<Gateway> {
  const { nc, config, log } = deps;
  if (config.apiKeys.size === 0 && !config.devMode) {
    throw new StartupError(
      'API_KEYS is not set: set API_KEYS=key:tenant[,key:tenant] (authentication may be off only in `nats-orders dev`)',
    );
  }
  if (config.apiKeys.size === 0)
    log.warn('authentication is OFF: every caller is tenant "default"');
  // Each step of a request is retried after a timeout (order-service.ts), so a write lost in a
  // leader change costs its client 2 s, not the client's default of 5 s and then a 503.
  const js = jetstream(nc, { timeout: REQUEST_STEP_TIMEOUT_MS });
  const [ordersKv, idempotencyKv] = await Promise.all([
    openOrdersBucket(js),
    openIdempotencyBucket(js),
  ]);
  const store = createActorStore({ kv: ordersKv, metrics: deps.metrics });
  const connection = deps.connection ?? monitorConnection(nc, log);
  const service = createOrderService({
    store,
    idempotency: createIdempotencyStore({
      kv: idempotencyKv,
      leaseMs: config.idempotencyLeaseMs,
      acceptedResponse: acceptedResponseFrom(store),
    }),
    log: log.child({ component: 'gateway' }),
    crashPoint: deps.crashPoint ?? noCrashPoints,
    metrics: deps.metrics,
    connection,
  });
  const authenticate = createAuthenticator(config.apiKeys);
  const identify = createIdentifier(config.apiKeys);
  const app = buildApp({
    service,
    authenticate,
    guards: { identify, rateLimitPerSecond: config.rateLimitPerSecond },
    deadLetters: deps.deadLetters,
    metrics: deps.metrics,
    adminApiKey: config.adminApiKey,
    ready: () => connection.connected(),
    log,
  });
  let natsApi: ReturnType<typeof startNatsApi> | undefined;

  return {
    app,
    async start() {
      natsApi = startNatsApi({ nc, service, authenticate, log });
      const url = await app.listen({ host: config.httpHost, port: config.httpPort });
      log.info({ url }, 'gateway listening');
      return url;
    },
    async stop() {
      await natsApi?.stop();
      await app.close();
    },
  };
}
