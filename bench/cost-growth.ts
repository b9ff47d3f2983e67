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
import { randomInt } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nuid } from '@nats-io/transport-node';
import type * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import { initialRecord, nextRecord } from '../src/actors/index.js';
import { createIdempotencyStore, requestFingerprint } from '../src/gateway/idempotency.js';
import {
  IDEMPOTENCY_KV_STREAM,
  ORDERS_KV_STREAM,
  OUTBOX_RELAY_CONSUMER,
  encodeOrderRecord,
  openIdempotencyBucket,
  openOrdersBucket,
  withoutOutboxEvents,
  type OrderRecord,
} from '../src/shared/index.js';
import { PACED_IN_FLIGHT, arrivalSchedule } from './arrivals.js';
import { cliBootMs, type BenchProcess } from './processes.js';
import { latencyHistogram, milliseconds, recordMs } from './report.js';
import {
  BENCH_AUTHORIZATION,
  BENCH_TENANT,
  startBenchStack,
  submitRequest,
  type BenchStack,
} from './stack.js';

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

const FILL_IN_FLIGHT = 512;

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
const at = '2026-01-01T00:00:00.000Z';

function completedOrder(orderId: string): OrderRecord {
  let record = initialRecord({
    orderId,
    tenant: BENCH_TENANT,
    customerId: `customer-${orderId.slice(-4)}`,
    currency: 'USD',
    items: [{ sku: 'prefill', quantity: 1, unitPrice: 1000 }],
    amount: 1000,
    correlationId: orderId,
    at,
  });
  for (const event of [
    { type: 'PAYMENT_STARTED', at },
    { type: 'PAYMENT_SUCCEEDED', at, paymentId: `pay_${orderId}` },
  ] as const)
    record = nextRecord(record, event)!;
  return withoutOutboxEvents(record, new Set(record.outbox.map((e) => e.id)));
}

/**
 * The ids of the pre-filled orders, for GETs of random ones: one buffer, not a million strings.
 * The bench is the measuring client, and a million small strings in its heap made its own
 * garbage collections longer. Added as ballast to a run at 10^4 stored orders, they cost the
 * closed-loop POST phase 11% of its throughput (1381 -> 1231/s) and raised paced GET p99 from
 * 13 to 26 ms: about what had been measured as growth at 10^6.
 */
class StoredOrderIds {
  private static readonly ID_LENGTH = 22; // a nuid
  private readonly bytes: Buffer;
  size = 0;

  constructor(capacity: number) {
    this.bytes = Buffer.alloc(capacity * StoredOrderIds.ID_LENGTH);
  }

  set(index: number, id: string): void {
    if (id.length !== StoredOrderIds.ID_LENGTH) throw new Error(`not a nuid: ${id}`);
    this.bytes.write(id, index * StoredOrderIds.ID_LENGTH, 'latin1');
    this.size = Math.max(this.size, index + 1);
  }

  random(): string {
    const start = randomInt(this.size) * StoredOrderIds.ID_LENGTH;
    return this.bytes.toString('latin1', start, start + StoredOrderIds.ID_LENGTH);
  }
}

/** Runs `task(i)` for i in [from, to) with at most FILL_IN_FLIGHT running. */
async function pipelined(from: number, to: number, task: (i: number) => Promise<unknown>) {
  let next = from;
  await Promise.all(
    Array.from({ length: FILL_IN_FLIGHT }, async () => {
      while (next < to) await task(next++);
    }),
  );
}

async function fill(
  stack: BenchStack,
  count: number,
  ids: StoredOrderIds,
  log: (l: string) => void,
) {
  const js = jetstream(stack.nc);
  const orders = await openOrdersBucket(js);
  const idempotency = createIdempotencyStore({
    kv: await openIdempotencyBucket(js),
    leaseMs: 10_000,
    acceptedResponse: async () => undefined, // the entries are written once, never replayed
  });
  const started = performance.now();
  for (let done = ids.size; done < count;) {
    const batch = Math.min(count, done + 50_000);
    await pipelined(done, batch, async (i) => {
      const orderId = nuid.next();
      ids.set(i, orderId);
      await orders.put(orderId, encodeOrderRecord(completedOrder(orderId)));
      await idempotency.claim(
        BENCH_TENANT,
        `prefill-${orderId}`,
        requestFingerprint('POST /orders', { orderId }),
        orderId,
      );
    });
    done = batch;
    log(
      `  filled ${done} of ${count} (${Math.round(done / ((performance.now() - started) / 1000))}/s)`,
    );
  }
}

async function relayCaughtUp(stack: BenchStack): Promise<void> {
  const jsm = await jetstreamManager(stack.nc);
  for (;;) {
    const info = await jsm.consumers.info(ORDERS_KV_STREAM, OUTBOX_RELAY_CONSUMER);
    if (info.num_pending === 0 && info.num_ack_pending === 0) return;
    await delay(250);
  }
}

type RequestOptions = Parameters<Pool['request']>[0];

/** Clients of a closed-loop phase: enough to keep these 2 cores near full. */
const CLOSED_LOOP_CLIENTS = 8;
interface PacedRates {
  post: number;
  get: number;
}

interface PhaseResult {
  histogram: hdr.Histogram;
  perSecond: number;
  /** The slowest request of the lead-in: what a cold start of this load costs. */
  leadInMaxMs: number;
}

/**
 * Each phase starts with this much of the same load, not measured. The first second of random
 * GETs at 10^6 stored orders waited up to 234 ms while nats-server loaded the blocks they hit
 * (700 MB of them); a steady state is what the sizes are compared on.
 */
const LEAD_IN_SECONDS = 3;
/**
 * Mixed POSTs and GETs before the first phase. The first closed-loop phase of a fresh stack
 * ran 2-3x slower for its first 5 s while the components warmed up (server CPU 0.21 -> 0.48 s/s).
 */
const WARM_UP_SECONDS = 8;

const percentiles = (h: hdr.Histogram) => ({
  p50: milliseconds(h.getValueAtPercentile(50)),
  p99: milliseconds(h.getValueAtPercentile(99)),
});

/**
 * One phase of one kind of request. Closed loop without `ratePerSecond`: 8 clients, each
 * sending its next request when the last is answered. Paced with it: a fixed arrival schedule,
 * latency counted from each request's scheduled time (no coordinated omission). Either way a
 * lead-in of the same load comes first (LEAD_IN_SECONDS).
 */
async function phase(
  pool: Pool,
  opts: {
    seconds: number;
    next: () => RequestOptions;
    /** The status every response must have; any for the warm-up. */
    expected?: number;
    ratePerSecond?: number;
    leadInSeconds?: number;
  },
): Promise<PhaseResult> {
  const { ratePerSecond } = opts;
  const histogram = latencyHistogram(60);
  let leadInMaxMs = 0;
  const start = performance.now();
  const measureFrom = start + (opts.leadInSeconds ?? LEAD_IN_SECONDS) * 1000;
  const end = measureFrom + opts.seconds * 1000;
  const dueAt = ratePerSecond ? arrivalSchedule(ratePerSecond, 0) : undefined;
  let slot = 0;
  const client = async () => {
    for (;;) {
      let t0 = performance.now();
      if (dueAt) {
        const scheduled = start + dueAt(slot++);
        if (scheduled >= end) return;
        if (scheduled > t0) await delay(scheduled - t0);
        t0 = scheduled;
      } else if (t0 >= end) return;
      const request = opts.next();
      const res = await pool.request(request);
      await res.body.text();
      if (opts.expected !== undefined && res.statusCode !== opts.expected)
        throw new Error(`${request.method} ${request.path} answered ${res.statusCode}`);
      const ms = performance.now() - t0;
      if (t0 >= measureFrom) recordMs(histogram, ms);
      else leadInMaxMs = Math.max(leadInMaxMs, ms);
    }
  };
  const clients = dueAt ? PACED_IN_FLIGHT : CLOSED_LOOP_CLIENTS;
  await Promise.all(Array.from({ length: clients }, client));
  const measuredSeconds = (performance.now() - measureFrom) / 1000;
  return {
    histogram,
    perSecond: histogram.totalCount / measuredSeconds,
    leadInMaxMs: Math.round(leadInMaxMs),
  };
}

/**
 * POSTs only, then GETs of random stored orders only, so each figure is its own (a GET that
 * loads a cold block does not show up as POST latency); first in a closed loop, then paced.
 *
 * The closed loop (8 clients) is the scenario's yardstick, as it has been since it was built:
 * its p99 is compared across sizes, and its throughput shows capacity. It keeps these 2 cores
 * near full, so its p99 hides a stall behind the clients it holds up. The paced phases do not:
 * a fixed arrival schedule, the same at every size (half of the first size's closed-loop
 * throughput), with latency counted from each scheduled time. Their p99 catches stalls (a
 * nats-server pause, a cold block), and so it swings more from run to run.
 */
async function measureRequests(
  stack: BenchStack,
  ids: StoredOrderIds,
  seconds: number,
  rates: PacedRates | undefined,
) {
  const pool = new Pool(stack.gatewayUrl, { connections: PACED_IN_FLIGHT, pipelining: 1 });
  const runId = Date.now().toString(36);
  let sequence = 0;
  const post = (): RequestOptions => submitRequest(`growth-${runId}-${sequence++}`);
  const get = (): RequestOptions => ({
    path: `/orders/${ids.random()}`,
    method: 'GET',
    headers: { authorization: BENCH_AUTHORIZATION },
  });
  try {
    // The components' first seconds under load run slower (their code is not optimised yet):
    // counted by no phase, whatever the size.
    let warmUp = 0;
    await phase(pool, {
      seconds: 0,
      next: () => (warmUp++ % 2 ? post() : get()),
      leadInSeconds: WARM_UP_SECONDS,
    });
    const closedPost = await phase(pool, { seconds, next: post, expected: 202 });
    const closedGet = await phase(pool, { seconds, next: get, expected: 200 });
    const paced = rates ?? {
      post: Math.round(closedPost.perSecond / 2),
      get: Math.round(closedGet.perSecond / 2),
    };
    const pacedPost = await phase(pool, {
      seconds,
      next: post,
      expected: 202,
      ratePerSecond: paced.post,
    });
    const pacedGet = await phase(pool, {
      seconds,
      next: get,
      expected: 200,
      ratePerSecond: paced.get,
    });
    return { closedPost, closedGet, pacedPost, pacedGet, rates: paced };
  } finally {
    await pool.close();
  }
}

async function bucketMb(stack: BenchStack, stream: string): Promise<number> {
  const info = await (await jetstreamManager(stack.nc)).streams.info(stream);
  return Math.round(info.state.bytes / 2 ** 20);
}

export async function runCostGrowth(opts: {
  sizes: number[];
  measureSeconds: number;
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

      const measured = await measureRequests(stack, ids, opts.measureSeconds, rates);
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
