/**
 * `nats-orders dev` (= `npm start`): the whole system in one command. Starts a local
 * nats-server with JetStream on a data dir (or uses NATS_URL), installs the pinned server
 * first when none is found, provisions, runs the payment stub (or uses PAYMENT_URL), relay,
 * worker and gateway, prints where to send requests, and stops cleanly on Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { provisionTopology, startAllComponents } from './components.js';
import { createPaymentsStub } from './payments-stub/index.js';
import { onShutdown } from './run.js';
import {
  NatsServerProcess,
  StartupError,
  connectNats,
  createRootLogger,
  findNatsServerBinary,
  freePort,
  loadConfig,
  type Logger,
} from './shared/index.js';

type Env = Record<string, string | undefined>;

const INSTALL_SCRIPT = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'scripts',
  'install-nats.sh',
);

/** The pinned nats-server, installed with `go install` (progress shown) when none is found. */
function ensureNatsServer(env: Env): string {
  try {
    return findNatsServerBinary(env);
  } catch (err) {
    if (!(err instanceof StartupError) || env.NATS_SERVER_BIN) throw err;
  }
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) {
    throw new StartupError(
      'nats-server not found and Go is not installed: install Go and run `npm run nats:install`, or set NATS_SERVER_BIN',
    );
  }
  process.stdout.write('nats-server not found: installing the pinned version with go install...\n');
  const result = spawnSync('bash', [INSTALL_SCRIPT], { stdio: 'inherit' });
  if (result.status !== 0)
    throw new StartupError('installing nats-server failed (see the output above)');
  return findNatsServerBinary(env);
}

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((done) => {
    const probe = createServer();
    probe.once('error', () => void freePort().then(done));
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => done(preferred)));
  });
}

async function startEmbeddedNats(
  env: Env,
  dataDir: string,
  log: Logger,
): Promise<NatsServerProcess> {
  const bin = ensureNatsServer(env);
  const dir = resolve(dataDir, 'nats');
  mkdirSync(dir, { recursive: true });
  const server = await NatsServerProcess.create({
    bin,
    dir,
    name: 'nats-orders-dev',
    clientPort: await portOr(4222),
  });
  await server.start();
  await server.waitHealthy();
  log.info({ url: server.node.url, dir }, 'embedded nats-server started');
  return server;
}

export async function runDev(env: Env): Promise<void> {
  const base = loadConfig(env, { devMode: true });
  const log = createRootLogger(base.logLevel);
  const nats = base.natsServers ? undefined : await startEmbeddedNats(env, base.dataDir, log);
  const stub = base.paymentUrl
    ? undefined
    : createPaymentsStub({ log: log.child({ component: 'payments-stub' }) });
  const paymentUrl =
    base.paymentUrl ?? (await stub!.listen({ host: '127.0.0.1', port: await portOr(4100) }));
  const config = loadConfig(
    { ...env, PAYMENT_URL: paymentUrl, ...(nats ? { NATS_URL: nats.node.url } : {}) },
    { devMode: true },
  );

  let all: Awaited<ReturnType<typeof startAllComponents>> | undefined;
  const stopAll = async () => {
    await all?.stop();
    await stub?.close();
    await nats?.stop();
  };
  onShutdown(log, stopAll);

  try {
    const nc = await connectNats(config, 'nats-orders-provision', log);
    const report = await provisionTopology(nc, config);
    await nc.drain();
    log.info(report, 'provisioned');
    all = await startAllComponents({ config, log, provision: false });
  } catch (err) {
    await stopAll(); // never leave the embedded server running behind a failed start
    throw err;
  }
  const api = all.components.find((c) => c.name === 'gateway')!.url!;
  const natsUrl = config.natsServers!.join(',');
  process.stdout.write(
    [
      '',
      'nats-orders dev is running (authentication off: dev mode)',
      `  HTTP API   ${api}  (OpenAPI and Swagger UI at ${api}/docs)`,
      `  NATS       ${natsUrl}${nats ? `  (embedded, data in ${join(base.dataDir, 'nats')})` : ''}`,
      `  payments   ${paymentUrl}${stub ? '  (stub; charges at /_stub/ledger)' : ''}`,
      '',
      'Try:',
      `  curl -i -X POST ${api}/orders -H 'content-type: application/json' -H 'idempotency-key: demo-1' \\`,
      `    -d '{"customerId":"c1","currency":"USD","items":[{"sku":"book","quantity":2,"unitPrice":1250}]}'`,
      `  curl ${api}/orders/<orderId>`,
      `  nats --server ${natsUrl} stream info ORDERS`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}
