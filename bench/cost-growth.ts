/**
 * Cost growth: does anything slow down as orders pile up? For each size, a fresh stack whose
 * `orders` and `idempotency` buckets are pre-filled with that many entries (COMPLETED orders
 * with their history, and answered idempotency keys, written as production writes them), then:
 *   - the relay's and a worker's start-up time (process spawn to serving /healthz, i.e.
 *     consumers open), restarted after the fill;
 *   - POST /orders, then GET /orders/:id of random stored orders, p50 and p99 (closed loop).
 * The relay runs during the fill, as it would have in production, and is caught up first.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nuid } from '@nats-io/transport-node';
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
import { latencyHistogram, milliseconds, recordMs } from './report.js';
import {
  BENCH_AUTHORIZATION,
  BENCH_TENANT,
  startBenchStack,
  submitRequest,
  type BenchStack,
} from './stack.js';

export interface CostGrowthRow {
  storedOrders: number;
  fillSeconds: number;
  relayStartMs: number;
  workerStartMs: number;
  requests: { post: number; get: number };
  postMs: { p50: number; p99: number };
  getMs: { p50: number; p99: number };
  bucketsMb: { orders: number; idempotency: number };
}

const FILL_IN_FLIGHT = 512;
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

/** Runs `task(i)` for i in [from, to) with at most FILL_IN_FLIGHT running. */
async function pipelined(from: number, to: number, task: (i: number) => Promise<unknown>) {
  let next = from;
  await Promise.all(
    Array.from({ length: FILL_IN_FLIGHT }, async () => {
      while (next < to) await task(next++);
    }),
  );
}

async function fill(stack: BenchStack, count: number, ids: string[], log: (l: string) => void) {
  const js = jetstream(stack.nc);
  const orders = await openOrdersBucket(js);
  const idempotency = createIdempotencyStore({
    kv: await openIdempotencyBucket(js),
    leaseMs: 10_000,
    acceptedResponse: async () => undefined, // the entries are written once, never replayed
  });
  const started = performance.now();
  for (let done = ids.length; done < count;) {
    const batch = Math.min(count, done + 50_000);
    await pipelined(done, batch, async (i) => {
      const orderId = nuid.next();
      ids[i] = orderId;
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

/**
 * Closed loop, 8 clients: a short warm-up, then POSTs only, then GETs of random stored orders
 * only, so each figure is its own (a GET that loads a cold block does not show up as POST
 * latency).
 */
async function measureRequests(stack: BenchStack, ids: string[], seconds: number) {
  const concurrency = 8;
  const pool = new Pool(stack.gatewayUrl, { connections: concurrency, pipelining: 1 });
  const runId = Date.now().toString(36);
  let sequence = 0;
  const post = () => submitRequest(`growth-${runId}-${sequence++}`);
  const get = (): Parameters<Pool['request']>[0] => ({
    path: `/orders/${ids[randomInt(ids.length)]}`,
    method: 'GET',
    headers: { authorization: BENCH_AUTHORIZATION },
  });
  const phase = async (
    phaseSeconds: number,
    next: () => Parameters<Pool['request']>[0],
    /** The status every response must have; any for the warm-up. */
    expected?: number,
  ) => {
    const h = latencyHistogram(60);
    const end = performance.now() + phaseSeconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const request = next();
          const t0 = performance.now();
          const res = await pool.request(request);
          await res.body.text();
          if (expected !== undefined && res.statusCode !== expected)
            throw new Error(`${request.method} ${request.path} answered ${res.statusCode}`);
          recordMs(h, performance.now() - t0);
        }
      }),
    );
    return h;
  };
  let warmUp = 0;
  await phase(2, () => (warmUp++ % 2 ? post() : get()));
  const posts = await phase(seconds, post, 202);
  const gets = await phase(seconds, get, 200);
  await pool.close();
  return { post: posts, get: gets };
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
  for (const size of opts.sizes) {
    opts.log(`\nbench: cost growth with ${size} stored orders`);
    const stack = await startBenchStack({ size: 1, syncAlways: false });
    try {
      await stack.startPaymentStub();
      const relay = await stack.startRelay();
      const ids: string[] = [];
      const fillStarted = performance.now();
      await fill(stack, size, ids, opts.log);
      await relayCaughtUp(stack);
      const fillSeconds = (performance.now() - fillStarted) / 1000;
      await relay.stop();

      const relayStarted = performance.now();
      await stack.startRelay();
      const relayStartMs = performance.now() - relayStarted;
      const workerStarted = performance.now();
      await stack.startWorker('worker-1');
      const workerStartMs = performance.now() - workerStarted;
      await stack.startGateway();

      const { post, get } = await measureRequests(stack, ids, opts.measureSeconds);
      rows.push({
        storedOrders: size,
        fillSeconds: Math.round(fillSeconds),
        relayStartMs: Math.round(relayStartMs),
        workerStartMs: Math.round(workerStartMs),
        requests: { post: post.totalCount, get: get.totalCount },
        postMs: {
          p50: milliseconds(post.getValueAtPercentile(50)),
          p99: milliseconds(post.getValueAtPercentile(99)),
        },
        getMs: {
          p50: milliseconds(get.getValueAtPercentile(50)),
          p99: milliseconds(get.getValueAtPercentile(99)),
        },
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
  return [
    '| stored orders | POST p50 / p99 ms | GET p50 / p99 ms | relay start ms | worker start ms | buckets MB (orders / idempotency) | fill s |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.storedOrders.toLocaleString('en')} | ${r.postMs.p50} / ${r.postMs.p99} | ${r.getMs.p50} / ${r.getMs.p99} | ${r.relayStartMs} | ${r.workerStartMs} | ${r.bucketsMb.orders} / ${r.bucketsMb.idempotency} | ${r.fillSeconds} |`,
    ),
  ].join('\n');
}
