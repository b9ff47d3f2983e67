/**
 * The system under test, as in production: nats-server node(s) and one process per component
 * (payment stub with a fixed 2 ms latency, relay, worker(s), gateway), each started through
 * the CLI and waited for on its health endpoint; or, with `--combined`, relay, worker and
 * gateway in one process (`nats-orders all`). One stack per scenario, removed afterwards.
 */
import type { Dispatcher } from 'undici';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { provisionTopology } from '../src/components.js';
import {
  connectNats,
  createRootLogger,
  findNatsServerBinary,
  freePort,
  loadConfig,
  startNatsServers,
} from '../src/shared/index.js';
import {
  procCpuSeconds,
  procPeakRssMb,
  procSchedSeconds,
  startCli,
  type BenchProcess,
  type SchedSeconds,
} from './processes.js';

const BENCH_API_KEY = 'bench-key-0123456789abcdef';
/** The tenant of the bench's API key (the cost-growth bench pre-fills orders as this tenant). */
export const BENCH_TENANT = 'bench';
/** The Authorization header of every request the bench sends to the gateway. */
export const BENCH_AUTHORIZATION = `Bearer ${BENCH_API_KEY}`;

/** The POST /orders the bench sends: a one-item order whose customer is its idempotency key. */
export function submitRequest(key: string): Dispatcher.RequestOptions {
  return {
    path: '/orders',
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': key,
      authorization: BENCH_AUTHORIZATION,
    },
    body: JSON.stringify({
      customerId: key,
      currency: 'USD',
      items: [{ sku: 'bench', quantity: 1, unitPrice: 1000 }],
    }),
  };
}

export const PAYMENT_LATENCY_MS = 2;

export interface StackOptions {
  size: 1 | 3;
  syncAlways: boolean;
  /** Write a V8 CPU profile per component into this directory (`--profile`). */
  profileDir?: string;
}

export interface BenchStack {
  nc: NatsConnection;
  gatewayUrl: string;
  paymentUrl: string;
  processes: BenchProcess[];
  /** The nats-server nodes, measured like the components. */
  servers: Array<{
    name: string;
    cpuSeconds(): number;
    peakRssMb(): number;
    schedSeconds(): SchedSeconds;
  }>;
  startPaymentStub(): Promise<BenchProcess>;
  startRelay(): Promise<BenchProcess>;
  startWorker(name: string): Promise<BenchProcess>;
  startGateway(): Promise<BenchProcess>;
  /** Relay, worker and gateway in one process: `nats-orders all`. */
  startAllInOne(): Promise<BenchProcess>;
  stop(): Promise<void>;
}

const running = new Set<BenchStack>();

/** Stops every stack still running: for Ctrl-C, so no component outlives the bench. */
export async function stopRunningStacks(): Promise<void> {
  for (const stack of [...running]) await stack.stop();
}

export async function startBenchStack(opts: StackOptions): Promise<BenchStack> {
  const dir = mkdtempSync(join(tmpdir(), 'nats-orders-bench-'));
  const nodes = await startNatsServers({
    bin: findNatsServerBinary(process.env),
    dir,
    size: opts.size,
    syncAlways: opts.syncAlways,
  });
  const [stubPort, httpPort] = [await freePort(), await freePort()];
  const env = {
    NATS_URL: nodes.map((s) => s.node.url).join(','),
    REPLICAS: String(opts.size),
    PAYMENT_URL: `http://127.0.0.1:${stubPort}`,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    // Authentication on, as in production (off only in dev mode): one tenant for the load.
    API_KEYS: `${BENCH_API_KEY}:${BENCH_TENANT}`,
    // One client address drives the whole load: no per-caller limit in a bench.
    RATE_LIMIT_PER_SECOND: '0',
    WORKER_CONCURRENCY: '64',
  };
  const config = loadConfig(env);
  const nc = await connectNats(config, 'bench', createRootLogger('silent'));
  await provisionTopology(nc, config);

  const processes: BenchProcess[] = [];
  const start = async (
    name: string,
    cliArgs: string[],
    extraEnv: Record<string, string>,
    readyUrl: string,
  ) => {
    // Each thread of the component (main, tsx's loader) writes a V8 CPU profile when it
    // exits; the main thread's is the largest.
    const profile = opts.profileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}/${name}`]
      : [];
    const proc = await startCli(name, cliArgs, { ...env, ...extraEnv }, readyUrl, profile);
    processes.push(proc);
    return proc;
  };
  const withMetrics = async (name: string, cliArgs: string[]) => {
    const port = await freePort();
    return start(name, cliArgs, { METRICS_PORT: String(port) }, `http://127.0.0.1:${port}/healthz`);
  };

  const stack: BenchStack = {
    nc,
    gatewayUrl: `http://127.0.0.1:${httpPort}`,
    paymentUrl: env.PAYMENT_URL,
    processes,
    servers: nodes.map((s) => ({
      name: `nats-server ${s.node.name}`,
      cpuSeconds: () => procCpuSeconds(s.pid!),
      peakRssMb: () => procPeakRssMb(s.pid!),
      schedSeconds: () => procSchedSeconds(s.pid!),
    })),
    startPaymentStub: () =>
      start(
        'payments-stub',
        ['payments-stub', '--port', String(stubPort), '--latency-ms', String(PAYMENT_LATENCY_MS)],
        {},
        `${env.PAYMENT_URL}/healthz`,
      ),
    startRelay: () => withMetrics('relay', ['relay', '--no-provision']),
    startWorker: (name) => withMetrics(name, ['worker', '--no-provision']),
    startGateway: () =>
      start('gateway', ['gateway', '--no-provision'], {}, `http://127.0.0.1:${httpPort}/readyz`),
    startAllInOne: () =>
      start('all-in-one', ['all', '--no-provision'], {}, `http://127.0.0.1:${httpPort}/readyz`),
    async stop() {
      running.delete(stack);
      await nc.drain().catch(() => undefined);
      for (const p of processes.reverse()) await p.stop();
      for (const s of nodes) await s.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(stack);
  return stack;
}
