/**
 * Cost growth: does anything slow down as orders pile up? For each size, a fresh stack whose
 * `orders` and `idempotency` buckets are pre-filled with that many entries (COMPLETED orders
 * with their history, and answered idempotency keys, written as production writes them), then:
 *   - the relay's and a worker's start-up time (process spawn to serving /healthz, i.e.
 *     consumers open), each started START_SAMPLES times after the fill: the median is the figure;
 *     next to it, the same number of `nats-orders --version` runs (Node and the code, no NATS);
 *   - POST /orders, then GET /orders/:id of random stored orders, p50 and p99 and throughput:
 *     in a closed loop, then paced at half of the first size's closed-loop throughput.
 * The relay runs during the fill, as it would have in production, and is caught up first.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type * as hdr from 'hdr-histogram-js';
import { IDEMPOTENCY_KV_STREAM, ORDERS_KV_STREAM } from '../src/shared/index.js';
import { fill, relayCaughtUp, StoredOrderIds } from './prefill.js';
import { cliBootMs, type BenchProcess } from './processes.js';
import { milliseconds } from './report.js';
import {
  measureRequests,
  type PacedRates,
  type PhaseResult,
  type PhaseTiming,
} from './request-phases.js';
import { startBenchStack, type BenchStack } from './stack.js';

interface RequestFigures {
  postPerSecond: number;
  getPerSecond: number;
  postMs: { p50: number; p99: number };
  getMs: { p50: number; p99: number };
  /** The slowest request of each phase's lead-in (not in the percentiles). */
  leadInMaxMs: { post: number; get: number };
}

export interface CostGrowthRow {
  storedOrders: number;
  fillSeconds: number;
  /** Medians of START_SAMPLES start-ups; every start-up in `startSamplesMs`. */
  relayStartMs: number;
  workerStartMs: number;
  /** Median of START_SAMPLES runs of `nats-orders --version`, just before the start-ups. */
  cliBootMs: number;
  startSamplesMs: { relay: number[]; worker: number[]; cliBoot: number[] };
  /** 8 clients as fast as they go: the p99 compared across sizes, and capacity. */
  closedLoop: RequestFigures;
  /** At fixed arrival rates, the same at every size: p99 with stalls counted in full. */
  paced: RequestFigures;
  bucketsMb: { orders: number; idempotency: number };
}

/**
 * Start-ups timed per component and size. One reading swung by a fifth between runs here (a
 * busy server right after the fill, a slow spawn), too much to tell flat from growing.
 */
const START_SAMPLES = 3;

/** Starts a component START_SAMPLES times, stopping each before the next; the last keeps running. */
async function timedStarts(start: () => Promise<BenchProcess>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < START_SAMPLES; i++) {
    const started = performance.now();
    const component = await start();
    samples.push(Math.round(performance.now() - started));
    if (i < START_SAMPLES - 1) await component.stop();
  }
  return samples;
}

const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentiles = (h: hdr.Histogram) => ({
  p50: milliseconds(h.getValueAtPercentile(50)),
  p99: milliseconds(h.getValueAtPercentile(99)),
});

async function bucketMb(stack: BenchStack, stream: string): Promise<number> {
  const info = await (await jetstreamManager(stack.nc)).streams.info(stream);
  return Math.round(info.state.bytes / 2 ** 20);
}

export async function runCostGrowth(opts: {
  sizes: number[];
  timing: PhaseTiming;
  log: (line: string) => void;
}): Promise<CostGrowthRow[]> {
  const rows: CostGrowthRow[] = [];
  let rates: PacedRates | undefined;
  for (const size of opts.sizes) {
    opts.log(`\nbench: cost growth with ${size} stored orders`);
    const stack = await startBenchStack({ size: 1, syncAlways: false });
    try {
      await stack.startPaymentStub();
      const relay = await stack.startRelay();
      const ids = new StoredOrderIds(size);
      const fillStarted = performance.now();
      await fill(stack, size, ids, opts.log);
      await relayCaughtUp(stack);
      const fillSeconds = (performance.now() - fillStarted) / 1000;
      await relay.stop();

      const boots: number[] = [];
      for (let i = 0; i < START_SAMPLES; i++) boots.push(await cliBootMs());
      const relayStarts = await timedStarts(() => stack.startRelay());
      const workerStarts = await timedStarts(() => stack.startWorker('worker-1'));
      await stack.startGateway();

      const measured = await measureRequests(stack, ids, opts.timing, rates);
      rates = measured.rates;
      const figures = (post: PhaseResult, get: PhaseResult): RequestFigures => ({
        postPerSecond: Math.round(post.perSecond),
        getPerSecond: Math.round(get.perSecond),
        postMs: percentiles(post.histogram),
        getMs: percentiles(get.histogram),
        leadInMaxMs: { post: post.leadInMaxMs, get: get.leadInMaxMs },
      });
      rows.push({
        storedOrders: size,
        fillSeconds: Math.round(fillSeconds),
        relayStartMs: median(relayStarts),
        workerStartMs: median(workerStarts),
        cliBootMs: median(boots),
        startSamplesMs: { relay: relayStarts, worker: workerStarts, cliBoot: boots },
        closedLoop: figures(measured.closedPost, measured.closedGet),
        paced: figures(measured.pacedPost, measured.pacedGet),
        bucketsMb: {
          orders: await bucketMb(stack, ORDERS_KV_STREAM),
          idempotency: await bucketMb(stack, IDEMPOTENCY_KV_STREAM),
        },
      });
      opts.log(`  ${JSON.stringify(rows.at(-1))}`);
    } finally {
      await stack.stop();
    }
  }
  return rows;
}

export function costGrowthTable(rows: readonly CostGrowthRow[]): string {
  const requests = (f: RequestFigures, rates: boolean) => {
    const per = (n: number) => (rates ? ` (${n}/s)` : ` at ${n}/s`);
    return `${f.postMs.p50} / ${f.postMs.p99}${per(f.postPerSecond)} | ${f.getMs.p50} / ${f.getMs.p99}${per(f.getPerSecond)}`;
  };
  return [
    '| stored orders | closed-loop POST p50 / p99 ms | closed-loop GET p50 / p99 ms | paced POST p50 / p99 ms | paced GET p50 / p99 ms | relay start ms | worker start ms | CLI boot ms | buckets MB (orders / idempotency) | fill s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.storedOrders.toLocaleString('en')} | ${requests(r.closedLoop, false)} | ${requests(r.paced, true)} | ${r.relayStartMs} | ${r.workerStartMs} | ${r.cliBootMs} | ${r.bucketsMb.orders} / ${r.bucketsMb.idempotency} | ${r.fillSeconds} |`,
    ),
  ].join('\n');
}
