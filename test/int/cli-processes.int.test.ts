import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/shared/index.js';
import { killAllCli, runCli, spawnCli, type CliProcess } from '../fixtures/cli-process.js';
import { TEST_DIR_PREFIX, startNats, type NatsFixture } from '../fixtures/nats.js';
import { scrapeSamples } from '../fixtures/metrics.js';
import { PROCESS_API_KEY, PROCESS_API_KEYS_ENV } from '../fixtures/orders-client.js';
import { waitFor } from '../fixtures/wait.js';

/** The worker settled one order, with an ack (its COMPLETED write comes just before the ack). */
async function expectOneAck(metricsBaseUrl: string): Promise<void> {
  const settled = await waitFor('the ack counted', async () => {
    const samples = await scrapeSamples(metricsBaseUrl, 'nats_orders_worker_messages_total');
    return samples.get('outcome="ack"') === 1 ? samples : undefined;
  });
  expect(settled.get('outcome="nak"')).toBe(0);
  expect(settled.get('outcome="term"')).toBe(0);
}

let nats: NatsFixture;
const processes: CliProcess[] = [];

beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  killAllCli();
  await nats?.stop();
});

/** What every component process of a test needs: the server, the stub's and gateway's ports. */
async function processEnv() {
  const stubPort = await freePort();
  const httpPort = await freePort();
  const env = {
    NATS_URL: nats.urls[0]!,
    PAYMENT_URL: `http://127.0.0.1:${stubPort}`,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    ...PROCESS_API_KEYS_ENV,
  };
  return { stubPort, httpPort, env };
}

describe('each component as its own process', () => {
  it('runs stub, relay, two workers and a gateway; submit and get work from a terminal; SIGTERM stops each cleanly', async () => {
    const { stubPort, httpPort, env: base } = await processEnv();
    const env = { ...base, BACKOFF: '500ms,1s', MAX_DELIVER: '3' };
    const stub = spawnCli(['payments-stub', '--port', String(stubPort)], env);
    processes.push(stub);
    await stub.waitForOutput(/payments stub listening/);
    for (const name of ['relay', 'worker', 'worker', 'gateway']) {
      const proc = spawnCli([name], env);
      processes.push(proc);
      await proc.waitForOutput(name === 'gateway' ? /gateway listening/ : /consuming/);
    }

    const url = `http://127.0.0.1:${httpPort}`;
    const submit = [
      'submit',
      '--url',
      url,
      '--api-key',
      PROCESS_API_KEY,
      '--key',
      'cli-1',
      '--item',
      'book:2:1250',
      '--item',
      'pen:1:199',
    ];
    const submitted = await runCli(submit);
    expect(submitted.code).toBe(0);
    const orderId = /"orderId": "([^"]+)"/.exec(submitted.output)![1]!;
    expect(submitted.output).toMatch(/^202\n/m);
    const retried = await runCli(submit);
    expect(retried.output).toMatch(/^202 \(replayed\)\n/m);
    expect(retried.output).toContain(orderId);

    const done = await waitFor('COMPLETED via `nats-orders get`', async () => {
      const res = await runCli(['get', orderId, '--url', url, '--api-key', PROCESS_API_KEY]);
      return res.output.includes('"status": "COMPLETED"') ? res : undefined;
    });
    expect(done.code).toBe(0);
    expect(done.output).toContain('"amount": 2699');
    const ledger = (await (
      await fetch(`http://127.0.0.1:${stubPort}/_stub/ledger/${orderId}`)
    ).json()) as { charges: number };
    expect(ledger.charges).toBe(1);

    // The invariant audit from the terminal, against the stub's ledger.
    const audit = await waitFor('a clean audit', async () => {
      const res = await runCli(['check'], env);
      return res.code === 0 ? res : undefined;
    });
    const report = JSON.parse(audit.output.slice(audit.output.indexOf('{')));
    expect(report.orders).toBe(1);
    expect(Object.values(report.violations).flat()).toEqual([]);

    const missing = await runCli([
      'get',
      'does-not-exist',
      '--url',
      url,
      '--api-key',
      PROCESS_API_KEY,
    ]);
    expect(missing.code).toBe(1);
    expect(missing.output).toMatch(/^404\n/m);

    // Gateway first, stub last: each exits 0 on SIGTERM after draining.
    for (const proc of [...processes].reverse()) expect(await proc.stop('SIGTERM')).toBe(0);
  });

  it('`nats-orders all` runs relay, worker and gateway in one process, with one /metrics, and stops cleanly', async () => {
    const { stubPort, httpPort, env: base } = await processEnv();
    // Ignored in one process (the gateway's /metrics has everything): no port clash.
    const env = { ...base, METRICS_PORT: String(await freePort()) };
    const stub = spawnCli(['payments-stub', '--port', String(stubPort)], env);
    await stub.waitForOutput(/payments stub listening/);
    const all = spawnCli(['all'], env);
    await all.waitForOutput(/gateway listening/);
    expect(all.output()).toMatch(/outbox relay consuming/);
    expect(all.output()).toMatch(/worker consuming/);

    const url = `http://127.0.0.1:${httpPort}`;
    const submitted = await runCli([
      'submit',
      ...['--url', url, '--api-key', PROCESS_API_KEY, '--key', 'all-1', '--item', 'book:1:500'],
    ]);
    expect(submitted.output).toMatch(/^202\n/m);
    const orderId = /"orderId": "([^"]+)"/.exec(submitted.output)![1]!;
    await waitFor('COMPLETED', async () => {
      const res = await runCli(['get', orderId, '--url', url, '--api-key', PROCESS_API_KEY]);
      return res.output.includes('"status": "COMPLETED"') ? res : undefined;
    });
    await expectOneAck(url);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(
      /^nats_orders_order_transitions_total\{from="PROCESSING",to="COMPLETED"\} 1$/m,
    );
    expect(metrics).toMatch(
      /^http_request_duration_seconds_count\{[^}]*route="\/orders"[^}]*\} 1$/m,
    );

    expect(await all.stop('SIGTERM')).toBe(0);
    expect(await stub.stop('SIGTERM')).toBe(0);
  });

  it('`nats-orders dev` (npm start) runs everything on its own nats-server and stops it all on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), TEST_DIR_PREFIX));
    try {
      const httpPort = await freePort();
      // NATS_URL and PAYMENT_URL unset: dev starts its own server and stub.
      const dev = spawnCli(['dev'], {
        NATS_URL: '',
        PAYMENT_URL: '',
        DATA_DIR: dataDir,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: String(httpPort),
      });
      const [, natsUrl] = (await dev.waitForOutput(/NATS {7}(nats:\/\/\S+)/, 60_000)) as string[];
      const url = `http://127.0.0.1:${httpPort}`;
      const submitted = await runCli(['submit', '--url', url, '--key', 'dev-1']);
      expect(submitted.output).toMatch(/^202\n/m);
      const orderId = /"orderId": "([^"]+)"/.exec(submitted.output)![1]!;
      await waitFor('COMPLETED', async () => {
        const res = await runCli(['get', orderId, '--url', url]);
        return res.output.includes('"status": "COMPLETED"') ? res : undefined;
      });
      await expectOneAck(url);

      expect(await dev.stop('SIGTERM')).toBe(0);
      // Its nats-server went with it.
      const port = Number(new URL(natsUrl!).port);
      const refused = await new Promise<boolean>((resolve) => {
        const socket = createConnection({ host: '127.0.0.1', port });
        socket.once('connect', () => (socket.destroy(), resolve(false)));
        socket.once('error', () => resolve(true));
      });
      expect(refused).toBe(true);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a worker without PAYMENT_URL and a gateway without API_KEYS refuse to start with one clear line', async () => {
    const worker = await runCli(['worker'], { NATS_URL: nats.urls[0]!, PAYMENT_URL: '' });
    expect(worker.code).toBe(1);
    expect(worker.output).toContain('nats-orders: PAYMENT_URL is required to run a worker');
    const gateway = await runCli(['gateway'], {
      NATS_URL: nats.urls[0]!,
      API_KEYS: '',
    });
    expect(gateway.code).toBe(1);
    expect(gateway.output).toContain('nats-orders: API_KEYS is not set');
    const badConfig = await runCli(['relay'], {
      NATS_URL: nats.urls[0]!,
      MAX_DELIVER: '2',
      BACKOFF: '1s,2s,3s',
    });
    expect(badConfig.code).toBe(1);
    expect(badConfig.output.trim()).toBe(
      'nats-orders: invalid MAX_DELIVER=2 with BACKOFF of 3 steps: the server requires MAX_DELIVER to be greater than the number of BACKOFF steps',
    );
  });
});
