/**
 * `npm run bench`: the whole system as separate processes under closed-loop HTTP load, with
 * the ceiling measured in the same run (see throughput.ts). Prints progress and figures and
 * writes JSON, Markdown (and for several scenarios an SVG chart) under bench/results/.
 * `npm run bench -- --help` lists the options (USAGE below).
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PACED_IN_FLIGHT } from './arrivals.js';
import { sweepChart } from './chart.js';
import { costGrowthTable, runCostGrowth } from './cost-growth.js';
import { SMOKE_TIMING, measuredTiming } from './request-phases.js';
import {
  fileStamp,
  machine,
  resourceTable,
  scenarioLabel,
  scenarioSlug,
  scenarioTable,
  writeResults,
  type Settings,
} from './report.js';
import { stopRunningStacks } from './stack.js';
import { runThroughput, type ThroughputReport } from './throughput.js';

const USAGE = `usage: npm run bench -- [options]
  (no option)                   R1, default sync, c=32, 1 worker, 15 s after a 3 s warm-up
  --concurrency 8,32,128        closed-loop clients; several values make a sweep (+ SVG chart)
  --rate N                      paced: N orders/s (at most --concurrency in flight)
  --half-max                    closed loop, then paced at half its sustained rate
  --duration S / --warmup S     measured seconds (15) / warm-up seconds (3)
  --workers N                   worker processes (1)
  --size 1|3                    nats-server nodes, R1 or R3 (1)
  --sync-always                 nats-server with sync_interval: always
  --combined                    relay, worker and gateway in one process
  --all                         every scenario family, each over c=8,32,128
  --cost-growth [--sizes ...]   POST/GET p99 and start-up at 10^4,10^5,10^6 stored orders
  --profile                     + a V8 CPU profile per component (no result files)
  --smoke                       a few seconds of tiny load, for CI (no result files); with
                                --cost-growth, sizes 200 and 400 and short phases
  --help                        this text
`;

function commandLine() {
  try {
    return parseArgs({
      options: {
        help: { type: 'boolean', default: false },
        concurrency: { type: 'string', default: '32' },
        rate: { type: 'string' },
        duration: { type: 'string', default: '15' },
        warmup: { type: 'string', default: '3' },
        workers: { type: 'string', default: '1' },
        size: { type: 'string', default: '1' },
        'sync-always': { type: 'boolean', default: false },
        all: { type: 'boolean', default: false },
        'cost-growth': { type: 'boolean', default: false },
        sizes: { type: 'string', default: '10000,100000,1000000' },
        smoke: { type: 'boolean', default: false },
        profile: { type: 'boolean', default: false },
        'half-max': { type: 'boolean', default: false },
        combined: { type: 'boolean', default: false },
      },
    }).values;
  } catch (err) {
    // An unknown option or a missing value: one line saying which, then the options.
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
}

const args = commandLine();
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

/** The scenario families `--all` runs, each over the concurrency sweep. */
const ALL_FAMILIES: Array<Pick<Settings, 'size' | 'syncAlways' | 'workers'>> = [
  { size: 1, syncAlways: false, workers: 1 },
  { size: 1, syncAlways: false, workers: 2 },
  { size: 1, syncAlways: true, workers: 1 },
  { size: 3, syncAlways: false, workers: 1 },
  { size: 3, syncAlways: true, workers: 1 },
];

function positiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench: --${name} must be a positive integer (got "${text}")\n`);
    process.exit(2);
  }
  return n;
}

const smoke = args.smoke;
const halfMax = args['half-max'] && !smoke;
if (halfMax && args.rate) {
  process.stderr.write('bench: --half-max finds its own rate; leave out --rate\n');
  process.exit(2);
}
const concurrencies = smoke
  ? [4]
  : (args.all && args.concurrency === '32' ? '8,32,128' : args.concurrency)
      .split(',')
      .map((c) => positiveInteger('concurrency', c));
function clusterSize(text: string): 1 | 3 {
  if (text === '1' || text === '3') return Number(text) as 1 | 3;
  process.stderr.write(`bench: --size must be 1 or 3 (got "${text}")\n`);
  process.exit(2);
}
const families = args.all
  ? ALL_FAMILIES
  : [
      {
        size: clusterSize(args.size),
        syncAlways: args['sync-always'],
        workers: positiveInteger('workers', args.workers),
        ...(args.combined ? { combined: true } : {}),
      },
    ];
if (args.combined && (args.all || families[0]!.workers !== 1)) {
  process.stderr.write(
    'bench: --combined runs one worker, in the one process; not with --all or --workers\n',
  );
  process.exit(2);
}
const scenarios: Settings[] = families.flatMap((family) =>
  concurrencies.map((concurrency) => ({
    ...family,
    concurrency,
    ...(args.rate && !smoke ? { ratePerSecond: positiveInteger('rate', args.rate) } : {}),
    durationSeconds: smoke ? 2 : positiveInteger('duration', args.duration),
    warmupSeconds: smoke ? 1 : positiveInteger('warmup', args.warmup),
  })),
);

const log = (line: string) => process.stderr.write(`${line}\n`);
const at = new Date();
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    log(`bench: ${signal}: stopping the stack`);
    void stopRunningStacks().finally(() => process.exit(130));
  });

if (args['cost-growth']) {
  const rows = await runCostGrowth({
    // A smoke run checks that the scenario still works end to end: two tiny sizes, no files.
    sizes: (smoke ? '200,400' : args.sizes).split(',').map((n) => positiveInteger('sizes', n)),
    timing: smoke ? SMOKE_TIMING : measuredTiming(positiveInteger('duration', args.duration)),
    log,
  });
  const table = costGrowthTable(rows);
  const result = { at: at.toISOString(), machine: machine(), costGrowth: rows };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n${table}\n`);
  if (!smoke)
    log(`bench: wrote ${writeResults(`${fileStamp(at)}-cost-growth`, result, table).join(', ')}`);
  process.exit(0);
}
const profileDir = args.profile
  ? fileURLToPath(new URL(`./profiles/${fileStamp(at)}`, import.meta.url))
  : undefined;

const reports: ThroughputReport[] = [];
/** A scenario that failed is reported as such; the others still run and are written. */
const failures: Array<{ scenario: string; error: string }> = [];
for (const [i, settings] of scenarios.entries()) {
  if (scenarios.length > 1)
    log(`\nbench: scenario ${i + 1} of ${scenarios.length}: ${scenarioLabel(settings)}`);
  try {
    const run = (s: Settings, dir: string) =>
      runThroughput(s, {
        smoke,
        log,
        ...(profileDir ? { profileDir: `${profileDir}/${dir}` } : {}),
      });
    const report = await run(settings, `${i + 1}`);
    reports.push(report);
    if (halfMax) {
      // "Half of the maximum" measured minutes apart can be a different machine here (its speed
      // drifts by a third within an hour): the paced run follows the closed-loop one at once.
      const ratePerSecond = Math.max(1, Math.round(report.sustainedEndToEndPerSecond / 2));
      log(`\nbench: paced at half the sustained maximum: ${ratePerSecond}/s`);
      reports.push(
        await run({ ...settings, ratePerSecond, concurrency: PACED_IN_FLIGHT }, `${i + 1}-half`),
      );
    }
  } catch (err) {
    if (scenarios.length === 1) throw err;
    // The stack too: a failure in a long --all run is read from its log afterwards.
    log(`bench: scenario failed: ${err instanceof Error && err.stack ? err.stack : String(err)}`);
    failures.push({ scenario: scenarioLabel(settings), error: String(err).split('\n')[0]! });
  }
}

const markdown = [
  scenarioTable(reports),
  '',
  resourceTable(reports),
  ...failures.map((f) => `\nFailed: ${f.scenario}: ${f.error}`),
].join('\n');
const single = reports.length === 1;
const result = single
  ? { at: at.toISOString(), machine: machine(), ...reports[0]! }
  : { at: at.toISOString(), machine: machine(), reports, failures };
process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n${markdown}\n`);
// A smoke run checks the bench works; a profiled run is slowed by the profiler: neither is a result.
if (!smoke && !profileDir) {
  const name = single
    ? `${fileStamp(at)}-${scenarioSlug(reports[0]!.settings)}`
    : `${fileStamp(at)}-${args.all ? 'all' : halfMax ? `${scenarioSlug(scenarios[0]!)}-half-max` : 'sweep'}`;
  // The chart plots a concurrency sweep; a half-max pair is two kinds of load, not a sweep.
  const chart =
    single || halfMax
      ? {}
      : {
          [`${name}.svg`]: sweepChart(
            reports,
            `${machine().cpus} cores, ${at.toISOString().slice(0, 10)}`,
          ),
        };
  log(`bench: wrote ${writeResults(name, result, markdown, chart).join(', ')}`);
}
if (profileDir)
  log(`bench: CPU profiles under ${profileDir} (npm run bench:profile-summary -- <file>)`);
