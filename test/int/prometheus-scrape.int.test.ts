/**
 * A real Prometheus (Debian's package) scraping a running system, every component its own
 * process, with the project's alert rules loaded: orders go through the success, retry and
 * dead-letter paths, and Prometheus's HTTP API shows the counters and the dead-letter alert.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/shared/index.js';
import { killAllCli, spawnCli, type CliProcess } from '../fixtures/cli-process.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import {
  PROCESS_API_KEYS_ENV,
  PROCESS_AUTH,
  call,
  submitOrder,
  waitForStatus,
} from '../fixtures/orders-client.js';
import { waitFor } from '../fixtures/wait.js';

const ALERTS = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const DASHBOARD = fileURLToPath(
  new URL('../../deploy/grafana/dashboards/nats-orders.json', import.meta.url),
);

let nats: NatsFixture;
let prometheus: ChildProcess | undefined;
let dir: string;
const processes: CliProcess[] = [];
const ports = { stub: 0, gateway: 0, worker: 0, relay: 0, prometheus: 0 };

beforeAll(async () => {
  nats = await startNats();
  dir = mkdtempSync(join(tmpdir(), 'nats-orders-prometheus-'));
  for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort();
});
afterAll(async () => {
  prometheus?.kill('SIGKILL');
  for (const p of processes.reverse()) await p.stop('SIGTERM');
  killAllCli();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startComponents(): Promise<string> {
  const env = {
    NATS_URL: nats.urls[0]!,
    PAYMENT_URL: `http://127.0.0.1:${ports.stub}`,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(ports.gateway),
    ...PROCESS_API_KEYS_ENV,
    BACKOFF: '300ms,600ms,1s',
    MAX_DELIVER: '5',
  };
  const stub = spawnCli(['payments-stub', '--port', String(ports.stub)], env);
  processes.push(stub);
  await stub.waitForOutput(/payments stub listening/);
  for (const [name, metricsPort] of [
    ['relay', ports.relay],
    ['worker', ports.worker],
    ['gateway', undefined],
  ] as const) {
    const proc = spawnCli([name], {
      ...env,
      ...(metricsPort ? { METRICS_PORT: String(metricsPort) } : {}),
    });
    processes.push(proc);
    await proc.waitForOutput(name === 'gateway' ? /gateway listening/ : /metrics listening/);
  }
  return `http://127.0.0.1:${ports.gateway}`;
}

async function startPrometheus(): Promise<string> {
  const config = join(dir, 'prometheus.yml');
  const job = (name: string, port: number) =>
    `  - job_name: nats-orders-${name}\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`;
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - ${ALERTS}\n` +
      `scrape_configs:\n${job('gateway', ports.gateway)}${job('worker', ports.worker)}${job('relay', ports.relay)}`,
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${ports.prometheus}`,
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${ports.prometheus}`;
  await waitFor(
    'prometheus ready',
    async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
    30_000,
  );
  return url;
}

/** The value of a PromQL query returning one sample, or undefined while it returns none. */
async function query(prometheusUrl: string, promql: string): Promise<number | undefined> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } };
  const sample = body.data.result[0];
  return sample ? Number(sample.value[1]) : undefined;
}

const setFaults = (faults: Record<string, unknown>) =>
  call(`http://127.0.0.1:${ports.stub}`, 'PUT', '/_stub/faults', { body: faults });

describe('Prometheus scraping a running system', () => {
  it('shows the success, retry and dead-letter paths, and raises OrdersDeadLettered', async () => {
    const gatewayUrl = await startComponents();
    const prometheusUrl = await startPrometheus();
    // Every target scraped once before the first order: counters start from their 0 sample.
    await waitFor('first scrapes', async () =>
      (await query(prometheusUrl, 'sum(up{job=~"nats-orders-.*"})')) === 3 &&
      (await query(prometheusUrl, 'sum(nats_orders_dead_lettered_total)')) === 0
        ? true
        : undefined,
    );

    const completed = await submitOrder(gatewayUrl, 'prom-success', PROCESS_AUTH);
    await waitForStatus(gatewayUrl, completed, 'COMPLETED', undefined, PROCESS_AUTH);
    await setFaults({ failFirst: 1, failStatus: 503 });
    const retried = await submitOrder(gatewayUrl, 'prom-retry', PROCESS_AUTH);
    await waitForStatus(gatewayUrl, retried, 'COMPLETED', undefined, PROCESS_AUTH);
    await setFaults({ failFirst: 0, failAlways: true, failStatus: 402 });
    const declined = await submitOrder(gatewayUrl, 'prom-declined', PROCESS_AUTH);
    await waitForStatus(gatewayUrl, declined, 'FAILED_PERMANENT', undefined, PROCESS_AUTH);
    await setFaults({ failAlways: false });
    // A replay and a missing key, for the idempotency outcomes.
    await submitOrder(gatewayUrl, 'prom-success', PROCESS_AUTH);
    await call(gatewayUrl, 'POST', '/orders', { body: {}, headers: PROCESS_AUTH });

    const expectations: Array<[string, number]> = [
      ['sum(up{job=~"nats-orders-.*"})', 3],
      ['sum(nats_orders_order_transitions_total{from="PROCESSING",to="COMPLETED"})', 2],
      ['sum(nats_orders_order_transitions_total{from="NEW",to="CREATED"})', 3],
      ['sum(nats_orders_order_transitions_total{to="FAILED_TRANSIENT"})', 1],
      ['sum(nats_orders_retries_scheduled_total{code="PAYMENT_UNAVAILABLE_503"})', 1],
      ['sum(nats_orders_dead_lettered_total{kind="terminated"})', 1],
      ['sum(nats_orders_payment_duration_seconds_count{outcome="charged"})', 2],
      ['sum(nats_orders_payment_duration_seconds_count{outcome="permanent"})', 1],
      ['sum(nats_orders_idempotency_outcomes_total{outcome="new"})', 3],
      ['sum(nats_orders_idempotency_outcomes_total{outcome="replayed"})', 1],
      ['sum(nats_orders_idempotency_outcomes_total{outcome="missing_key"})', 1],
      [
        'sum(http_request_duration_seconds_count{route="/orders",method="POST",status_code="202"})',
        4,
      ],
      ['sum(nats_orders_order_duration_seconds_count{status="COMPLETED"})', 2],
      ['sum(nats_orders_worker_messages_total{outcome="nak"})', 1],
      ['min(nats_orders_nats_connected)', 1],
      ['max(nats_orders_consumer_pending_messages{consumer="order-worker"})', 0],
      ['max(nats_orders_outbox_pending_writes)', 0],
    ];
    const seen: Record<string, number | undefined> = {};
    await waitFor(
      'the expected series in Prometheus',
      async () => {
        for (const [promql] of expectations) {
          seen[promql] = await query(prometheusUrl, promql);
        }
        return expectations.every(([promql, expected]) => seen[promql] === expected)
          ? true
          : undefined;
      },
      30_000,
      500,
    ).catch(() => undefined);
    expect(seen).toEqual(Object.fromEntries(expectations));
    expect(await query(prometheusUrl, 'max(nats_orders_outbox_oldest_pending_age_seconds)')).toBe(
      0,
    );

    const alert = await waitFor('OrdersDeadLettered alert', async () => {
      const res = await fetch(`${prometheusUrl}/api/v1/alerts`);
      const body = (await res.json()) as {
        data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
      };
      return body.data.alerts.find((a) => a.labels.alertname === 'OrdersDeadLettered');
    });
    expect(['pending', 'firing']).toContain(alert.state);
    expect(alert.labels).toMatchObject({ kind: 'terminated', severity: 'page' });
  });

  it('answers every query of the Grafana dashboard, and every metric it and the alerts name exists', async () => {
    const prometheusUrl = `http://127.0.0.1:${ports.prometheus}`;
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(16);
    for (const expr of exprs) {
      const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      expect(((await res.json()) as { status: string }).status, expr).toBe('success');
    }
    // Names used by the dashboard and the alert rules, against what the components export.
    const exported = (
      await Promise.all(
        [
          `http://127.0.0.1:${ports.gateway}/metrics`,
          `http://127.0.0.1:${ports.worker}/metrics`,
          `http://127.0.0.1:${ports.relay}/metrics`,
        ].map(async (url) => (await fetch(url)).text()),
      )
    ).join('\n');
    const used = new Set(
      [...exprs, readFileSync(ALERTS, 'utf8')]
        .join('\n')
        .match(/\b(nats_orders_[a-z_]+|http_request_duration_seconds_[a-z]+|process_[a-z_]+)\b/g),
    );
    for (const name of used) expect(exported, name).toMatch(new RegExp(`^${name}[{ ]`, 'm'));
  });
});
