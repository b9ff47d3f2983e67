/**
 * `npm run bench`: the whole system as separate processes (nats-server, payment stub with a
 * fixed 2 ms latency, relay, worker(s), gateway), closed-loop HTTP load after a warm-up, a
 * drain until every accepted order is COMPLETED, then the ceiling (the same durable JetStream
 * work without HTTP, XState or payment) on the same server. Prints figures and writes JSON and
 * Markdown under bench/results/. `--smoke` runs a few seconds of tiny load (CI).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { provisionTopology } from '../src/components.js';
import {
  PINNED_NATS_SERVER_VERSION,
  connectNats,
  createRootLogger,
  findNatsServerBinary,
  freePort,
  loadConfig,
  startNatsServers,
} from '../src/shared/index.js';
import { auditRun } from './audit.js';
import { measureCeiling } from './ceiling.js';
import { runLoad } from './load.js';
import { procCpuSeconds, procPeakRssMb, startCli, type BenchProcess } from './processes.js';

const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '32' },
    duration: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    size: { type: 'string', default: '1' },
    'sync-always': { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
  },
});
const smoke = args.smoke;
const settings = {
  concurrency: smoke ? 4 : Number(args.concurrency),
  durationSeconds: smoke ? 2 : Number(args.duration),
  warmupSeconds: smoke ? 1 : Number(args.warmup),
  workers: Number(args.workers),
  size: Number(args.size) as 1 | 3,
  syncAlways: args['sync-always'],
  paymentLatencyMs: 2,
};
const PROFILE_DIR = fileURLToPath(new URL('./profiles/', import.meta.url));
const runStamp = new Date().toISOString().replaceAll(':', '-').slice(0, 19);
const log = (line: string) => process.stderr.write(`${line}\n`);
const us = (v: number) => Math.round(v) / 1000; // histogram microseconds -> ms

const dir = mkdtempSync(join(tmpdir(), 'nats-orders-bench-'));
const processes: BenchProcess[] = [];
const servers = await startNatsServers({
  bin: findNatsServerBinary(process.env),
  dir,
  size: settings.size,
  syncAlways: settings.syncAlways,
});
try {
  const natsUrl = servers.map((s) => s.node.url).join(',');
  const [stubPort, httpPort] = [await freePort(), await freePort()];
  const env = {
    NATS_URL: natsUrl,
    REPLICAS: String(settings.size),
    PAYMENT_URL: `http://127.0.0.1:${stubPort}`,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    AUTH_DISABLED: 'true',
    WORKER_CONCURRENCY: '64',
  };
  const config = loadConfig(env);
  const nc = await connectNats(config, 'bench', createRootLogger('silent'));
  await provisionTopology(nc, config);
  log(`bench: ${JSON.stringify(settings)}`);
  const start = (
    name: string,
    cliArgs: string[],
    extraEnv: Record<string, string>,
    readyUrl: string,
  ) => {
    // --profile: each thread of the component (main, tsx's loader) writes a V8 CPU profile
    // into bench/profiles/<run>/<component>/ when it exits; the main thread's is the largest.
    const profile = args.profile
      ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}${runStamp}/${name}`]
      : [];
    return startCli(name, cliArgs, { ...env, ...extraEnv }, readyUrl, profile);
  };
  const withMetrics = async (name: string, cliArgs: string[]) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/healthz`;
    return start(name, cliArgs, { METRICS_PORT: String(port) }, url);
  };
  processes.push(
    await start(
      'payments-stub',
      ['payments-stub', '--port', String(stubPort), '--latency-ms', '2'],
      {},
      `${env.PAYMENT_URL}/healthz`,
    ),
    await withMetrics('relay', ['relay', '--no-provision']),
  );
  for (let i = 0; i < settings.workers; i++)
    processes.push(await withMetrics(`worker-${i + 1}`, ['worker', '--no-provision']));
  const gatewayReady = `http://127.0.0.1:${httpPort}/readyz`;
  processes.push(await start('gateway', ['gateway', '--no-provision'], {}, gatewayReady));

  const cpuBefore = new Map(processes.map((p) => [p.name, p.cpuSeconds()]));
  const serverCpuBefore = servers.map((s) => procCpuSeconds(s.pid!));
  const result = await runLoad({
    gatewayUrl: `http://127.0.0.1:${httpPort}`,
    nc,
    concurrency: settings.concurrency,
    warmupSeconds: settings.warmupSeconds,
    durationSeconds: settings.durationSeconds,
    drainTimeoutSeconds: 120,
    progress: log,
  });
  const audit = await auditRun(nc, env.PAYMENT_URL, result);
  const perThousand = (cpu: number) =>
    Math.round((cpu / Math.max(1, result.accepted)) * 1000 * 100) / 100;
  const resources = [
    ...processes.map((p) => ({
      process: p.name,
      cpuSecondsPer1000Orders: perThousand(p.cpuSeconds() - cpuBefore.get(p.name)!),
      peakRssMb: Math.round(p.peakRssMb()),
    })),
    ...servers.map((s, i) => ({
      process: `nats-server ${s.node.name}`,
      cpuSecondsPer1000Orders: perThousand(procCpuSeconds(s.pid!) - serverCpuBefore[i]!),
      peakRssMb: Math.round(procPeakRssMb(s.pid!)),
    })),
  ];
  log('bench: measuring the ceiling on the same server ...');
  const ceiling = await measureCeiling(nc, {
    orders: smoke ? 200 : Math.min(20_000, Math.max(2_000, result.accepted)),
    inFlight: 256,
    replicas: settings.size,
  });
  await nc.drain();

  const sustained = result.accepted / (result.loadSeconds + result.drainSeconds);
  const report = {
    at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      natsServer: PINNED_NATS_SERVER_VERSION,
    },
    settings,
    acceptedPerSecond: Math.round(result.accepted / result.loadSeconds),
    sustainedEndToEndPerSecond: Math.round(sustained),
    ceilingPerSecond: Math.round(ceiling.ordersPerSecond),
    fractionOfCeiling: Math.round((sustained / ceiling.ordersPerSecond) * 1000) / 1000,
    accepted: result.accepted,
    errors: result.errors,
    loadSeconds: Math.round(result.loadSeconds * 10) / 10,
    drainSeconds: Math.round(result.drainSeconds * 100) / 100,
    postMs: {
      p50: us(result.post.getValueAtPercentile(50)),
      p90: us(result.post.getValueAtPercentile(90)),
      p99: us(result.post.getValueAtPercentile(99)),
      max: us(result.post.maxValue),
    },
    endToEndMs: {
      p50: us(result.endToEnd.getValueAtPercentile(50)),
      p99: us(result.endToEnd.getValueAtPercentile(99)),
    },
    invariantViolations: audit,
    resources,
  };
  const name = `${report.at.replaceAll(':', '-').slice(0, 19)}-r${settings.size}${settings.syncAlways ? '-sync' : ''}-c${settings.concurrency}-w${settings.workers}${smoke ? '-smoke' : ''}`;
  const outDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const markdown = [
    `| scenario | accepted/s | sustained e2e/s | ceiling/s | of ceiling | POST p50 / p90 / p99 / max ms | e2e p50 / p99 ms |`,
    `| --- | --- | --- | --- | --- | --- | --- |`,
    `| R${settings.size}${settings.syncAlways ? ' sync always' : ''}, c=${settings.concurrency}, ${settings.workers} worker(s) | ${report.acceptedPerSecond} | ${report.sustainedEndToEndPerSecond} | ${report.ceilingPerSecond} | ${(report.fractionOfCeiling * 100).toFixed(0)}% | ${report.postMs.p50} / ${report.postMs.p90} / ${report.postMs.p99} / ${report.postMs.max} | ${report.endToEndMs.p50} / ${report.endToEndMs.p99} |`,
    '',
    '| process | CPU s / 1,000 orders | peak RSS MB |',
    '| --- | --- | --- |',
    ...resources.map((r) => `| ${r.process} | ${r.cpuSecondsPer1000Orders} | ${r.peakRssMb} |`),
  ].join('\n');
  if (!smoke) {
    writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(outDir, `${name}.md`), `${markdown}\n`);
  }
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n${markdown}\n`);
} finally {
  for (const p of processes.reverse()) await p.stop();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
}
