/**
 * What a bench run records: the machine and versions, the settings, and the figures, as JSON
 * and as Markdown tables under bench/results/ (plus an SVG chart for a sweep).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as hdr from 'hdr-histogram-js';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PINNED_NATS_SERVER_VERSION } from '../src/shared/index.js';
import type { ThroughputReport } from './throughput.js';

export interface Settings {
  concurrency: number;
  /** A paced run's arrivals per second (concurrency is then the most in flight). */
  ratePerSecond?: number;
  durationSeconds: number;
  warmupSeconds: number;
  workers: number;
  size: 1 | 3;
  syncAlways: boolean;
  /** Relay, worker and gateway in one process (`nats-orders all`) instead of one each. */
  combined?: boolean;
}

export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

/** HDR histograms hold microseconds; reports show milliseconds to the microsecond. */
export const milliseconds = (us: number): number => Math.round(us) / 1000;

/** A latency histogram in microseconds, 3 significant digits, up to `maxSeconds`. */
export function latencyHistogram(maxSeconds: number): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: maxSeconds * 1_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records a duration given in milliseconds (at least 1 µs). */
export function recordMs(histogram: hdr.Histogram, ms: number): void {
  histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
}

export function machine() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    natsServer: PINNED_NATS_SERVER_VERSION,
  };
}

type Family = Pick<Settings, 'size' | 'syncAlways' | 'workers' | 'combined'>;

const processesLabel = (s: Family): string =>
  s.combined ? 'all in one process' : `${s.workers} worker(s)`;

/** "R1 sync always, 2 worker(s)": a scenario without its concurrency (a sweep's line). */
export function familyLabel(s: Family): string {
  return `R${s.size}${s.syncAlways ? ' sync always' : ''}, ${processesLabel(s)}`;
}

export function scenarioLabel(s: Settings): string {
  const load = s.ratePerSecond ? `paced ${s.ratePerSecond}/s` : `c=${s.concurrency}`;
  return `R${s.size}${s.syncAlways ? ' sync always' : ''}, ${load}, ${processesLabel(s)}`;
}

/** "r3-sync-c32-w1", "r1-rate500-w2", "r1-c32-all": a scenario in a file name. */
export function scenarioSlug(s: Settings): string {
  const load = s.ratePerSecond ? `rate${s.ratePerSecond}` : `c${s.concurrency}`;
  return `r${s.size}${s.syncAlways ? '-sync' : ''}-${load}-${s.combined ? 'all' : `w${s.workers}`}`;
}

export function fileStamp(at: Date): string {
  return at.toISOString().replaceAll(':', '-').slice(0, 19);
}

export function scenarioTable(reports: readonly ThroughputReport[]): string {
  return [
    '| scenario | accepted/s | sustained e2e/s | ceiling/s | of ceiling | POST p50 / p90 / p99 / max ms | e2e p50 / p99 ms |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...reports.map(
      (r) =>
        `| ${scenarioLabel(r.settings)} | ${r.acceptedPerSecond} | ${r.sustainedEndToEndPerSecond} | ${r.ceilingPerSecond} | ${(r.fractionOfCeiling * 100).toFixed(0)}% | ${r.postMs.p50} / ${r.postMs.p90} / ${r.postMs.p99} / ${r.postMs.max} | ${r.endToEndMs.p50} / ${r.endToEndMs.p99} |`,
    ),
  ].join('\n');
}

export function resourceTable(reports: readonly ThroughputReport[]): string {
  const processes = [...new Set(reports.flatMap((r) => r.resources.map((x) => x.process)))];
  const cell = (r: ThroughputReport, process: string) => {
    const x = r.resources.find((y) => y.process === process);
    return x ? `${x.cpuSecondsPer1000Orders} / ${x.peakRssMb} / ${x.runQueueWaitPerCpuSecond}` : '';
  };
  return [
    `| CPU s per 1,000 orders / peak RSS MB / run-queue wait per CPU s | ${processes.join(' | ')} |`,
    `| --- | ${processes.map(() => '---').join(' | ')} |`,
    ...reports.map(
      (r) => `| ${scenarioLabel(r.settings)} | ${processes.map((p) => cell(r, p)).join(' | ')} |`,
    ),
  ].join('\n');
}

/** Writes `<name>.json`, `<name>.md` and any extra files under bench/results/. */
export function writeResults(
  name: string,
  json: unknown,
  markdown: string,
  extra: Record<string, string> = {},
): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const files = {
    [`${name}.json`]: `${JSON.stringify(json, null, 2)}\n`,
    [`${name}.md`]: `${markdown}\n`,
    ...extra,
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(join(RESULTS_DIR, file), text);
  return Object.keys(files).map((f) => join('bench/results', f));
}
