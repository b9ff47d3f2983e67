/**
 * Load over HTTP (undici pool, keep-alive). Closed loop: `concurrency` clients, each submitting
 * an order and waiting for its 202 before the next one. Paced (`ratePerSecond`): the same
 * clients follow a fixed arrival schedule (ramped up during the warm-up, see arrivals.ts), and
 * latency counts from each request's scheduled time, so a stalled server is charged for the
 * requests it delayed (no coordinated omission). POST latency goes into an HDR histogram after
 * the warm-up; end-to-end latency (202 to COMPLETED) is observed from the
 * `orders.events.completed.*` events on a core NATS subscription.
 */
import type * as hdr from 'hdr-histogram-js';
import { arrivalSchedule } from './arrivals.js';
import { latencyHistogram, recordMs } from './report.js';
import { submitRequest } from './stack.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { Pool } from 'undici';

export interface LoadResult {
  accepted: number;
  errors: number;
  loadSeconds: number;
  drainSeconds: number;
  post: hdr.Histogram;
  endToEnd: hdr.Histogram;
  /** Order ids accepted during the measured window. */
  acceptedIds: string[];
  /** Accepted in the measured window, yet no completed event seen before the drain timed out. */
  unfinished: string[];
}

export async function runLoad(opts: {
  gatewayUrl: string;
  nc: NatsConnection;
  concurrency: number;
  /** Arrivals per second for a paced run; closed loop without it. */
  ratePerSecond?: number;
  warmupSeconds: number;
  durationSeconds: number;
  drainTimeoutSeconds: number;
  progress: (line: string) => void;
  /** Called when the warm-up ends and the measured window starts. */
  onMeasuring?: () => void;
}): Promise<LoadResult> {
  const post = latencyHistogram(60);
  const endToEnd = latencyHistogram(600);
  const acceptedAt = new Map<string, number>();
  const acceptedIds: string[] = [];
  // A completed event can be read before the 202 that announced its order: a starved bench
  // process reads both sockets in one go, and undici hands over the body a few ticks later
  // (seen once in CI). Completions of orders not (yet) known wait here.
  const completedEarly = new Map<string, number>();
  let completedMeasured = 0;
  const recordEndToEnd = (ms: number) => {
    recordMs(endToEnd, ms);
    completedMeasured++;
  };
  const sub = opts.nc.subscribe('orders.events.completed.>', {
    callback: (_err, msg) => {
      const orderId = msg.subject.slice('orders.events.completed.'.length);
      const at = acceptedAt.get(orderId);
      if (at === undefined) {
        completedEarly.set(orderId, performance.now());
        return;
      }
      acceptedAt.delete(orderId);
      recordEndToEnd(performance.now() - at);
    },
  });
  await opts.nc.flush();

  const pool = new Pool(opts.gatewayUrl, { connections: opts.concurrency, pipelining: 1 });
  const runId = Date.now().toString(36);
  let sequence = 0;
  let accepted = 0;
  let errors = 0;
  const start = performance.now();
  const warmupEnd = start + opts.warmupSeconds * 1000;
  const end = warmupEnd + opts.durationSeconds * 1000;

  const measuring = setTimeout(() => opts.onMeasuring?.(), warmupEnd - performance.now());
  const dueAt = opts.ratePerSecond
    ? arrivalSchedule(opts.ratePerSecond, opts.warmupSeconds * 1000)
    : undefined;
  const client = async () => {
    while (performance.now() < end) {
      const slot = sequence++;
      const key = `bench-${runId}-${slot}`;
      let t0 = performance.now();
      if (dueAt) {
        const scheduled = start + dueAt(slot);
        if (scheduled >= end) break;
        if (scheduled > t0) await new Promise((r) => setTimeout(r, scheduled - t0));
        t0 = scheduled;
      }
      try {
        const res = await pool.request(submitRequest(key));
        const text = await res.body.text();
        const t1 = performance.now();
        if (res.statusCode !== 202) {
          errors++;
          continue;
        }
        if (t0 >= warmupEnd) {
          recordMs(post, t1 - t0);
          const { orderId } = JSON.parse(text) as { orderId: string };
          acceptedIds.push(orderId);
          accepted++;
          const completedAt = completedEarly.get(orderId);
          if (completedAt === undefined) acceptedAt.set(orderId, t1);
          else {
            // The 202 reached the bench after the completion: count from the request's start.
            completedEarly.delete(orderId);
            recordEndToEnd(completedAt - t0);
          }
        }
      } catch {
        errors++;
      }
    }
  };
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now < warmupEnd)
      return opts.progress(`  warm-up ${((warmupEnd - now) / 1000).toFixed(0)} s left`);
    // Warm-up orders complete unmatched; keep the early completions to the last few seconds.
    for (const [id, at] of completedEarly) if (now - at > 10_000) completedEarly.delete(id);
    opts.progress(`  ${accepted} accepted, ${completedMeasured} completed, ${errors} errors`);
  }, 2_000);
  await Promise.all(Array.from({ length: opts.concurrency }, client));
  clearTimeout(measuring);
  const loadSeconds = (performance.now() - warmupEnd) / 1000;

  // Drain: every order accepted during the measured window must complete.
  const drainStart = performance.now();
  while (acceptedAt.size > 0 && performance.now() - drainStart < opts.drainTimeoutSeconds * 1000) {
    await new Promise((r) => setTimeout(r, 20));
  }
  clearInterval(ticker);
  const drainSeconds = (performance.now() - drainStart) / 1000;
  sub.unsubscribe();
  await pool.close();
  return {
    accepted,
    errors,
    loadSeconds,
    drainSeconds,
    post,
    endToEnd,
    acceptedIds,
    unfinished: [...acceptedAt.keys()],
  };
}
