/**
 * The cost-growth scenario's request phases: POSTs only, then GETs of random stored orders
 * only, each in a closed loop and then paced, every phase after a lead-in of the same load.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import { PACED_IN_FLIGHT, arrivalSchedule } from './arrivals.js';
import type { StoredOrderIds } from './prefill.js';
import { latencyHistogram, recordMs } from './report.js';
import { BENCH_AUTHORIZATION, submitRequest, type BenchStack } from './stack.js';

type RequestOptions = Parameters<Pool['request']>[0];

/** Clients of a closed-loop phase: enough to keep these 2 cores near full. */
const CLOSED_LOOP_CLIENTS = 8;
export interface PacedRates {
  post: number;
  get: number;
}

export interface PhaseResult {
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

/** How long each phase measures, and its unmeasured lead-in; the warm-up before them all. */
export interface PhaseTiming {
  seconds: number;
  leadInSeconds: number;
  warmUpSeconds: number;
}

/** The timing the figures are compared on: `seconds` measured after the lead-ins above. */
export const measuredTiming = (seconds: number): PhaseTiming => ({
  seconds,
  leadInSeconds: LEAD_IN_SECONDS,
  warmUpSeconds: WARM_UP_SECONDS,
});

/** A smoke run's: checks that every phase works, measures nothing worth comparing. */
export const SMOKE_TIMING: PhaseTiming = { seconds: 1, leadInSeconds: 0.5, warmUpSeconds: 1 };

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
    leadInSeconds: number;
  },
): Promise<PhaseResult> {
  const { ratePerSecond } = opts;
  const histogram = latencyHistogram(60);
  let leadInMaxMs = 0;
  const start = performance.now();
  const measureFrom = start + opts.leadInSeconds * 1000;
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
export async function measureRequests(
  stack: BenchStack,
  ids: Pick<StoredOrderIds, 'random'>,
  timing: PhaseTiming,
  rates: PacedRates | undefined,
) {
  const { seconds, leadInSeconds } = timing;
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
      leadInSeconds: timing.warmUpSeconds,
    });
    const closedPost = await phase(pool, { seconds, leadInSeconds, next: post, expected: 202 });
    const closedGet = await phase(pool, { seconds, leadInSeconds, next: get, expected: 200 });
    const paced = rates ?? {
      post: Math.round(closedPost.perSecond / 2),
      get: Math.round(closedGet.perSecond / 2),
    };
    const pacedPost = await phase(pool, {
      seconds,
      leadInSeconds,
      next: post,
      expected: 202,
      ratePerSecond: paced.post,
    });
    const pacedGet = await phase(pool, {
      seconds,
      leadInSeconds,
      next: get,
      expected: 200,
      ratePerSecond: paced.get,
    });
    return { closedPost, closedGet, pacedPost, pacedGet, rates: paced };
  } finally {
    await pool.close();
  }
}
