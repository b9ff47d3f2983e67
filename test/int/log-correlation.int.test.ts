/**
 * One order followed across processes: the correlation id and the W3C trace id given on the
 * HTTP request appear in the gateway's, the relay's and the worker's JSON log lines, in the
 * stored record, on the ORDERS events' headers and in a dead letter.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ORDERS_BUCKET,
  ORDERS_STREAM,
  decodeOrderRecord,
  eventSubject,
  freePort,
} from '../../src/shared/index.js';
import { killAllCli, spawnCli, type CliProcess } from '../fixtures/cli-process.js';
import { waitForDlqEntry } from '../fixtures/dlq.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import {
  PROCESS_API_KEYS_ENV,
  PROCESS_AUTH,
  call,
  postOrder,
  sampleOrder,
  waitForStatus,
} from '../fixtures/orders-client.js';

let nats: NatsFixture;
const procs: Record<'stub' | 'relay' | 'worker' | 'gateway', CliProcess> = {} as never;
let gatewayUrl: string;
let stubUrl: string;

beforeAll(async () => {
  nats = await startNats();
  const [stubPort, httpPort] = [await freePort(), await freePort()];
  stubUrl = `http://127.0.0.1:${stubPort}`;
  gatewayUrl = `http://127.0.0.1:${httpPort}`;
  const env = {
    NATS_URL: nats.urls[0]!,
    PAYMENT_URL: stubUrl,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: String(httpPort),
    ...PROCESS_API_KEYS_ENV,
    BACKOFF: '300ms,600ms,1s',
    MAX_DELIVER: '5',
    // The relay's per-publish line is at debug level.
    LOG_LEVEL: 'debug',
  };
  procs.stub = spawnCli(['payments-stub', '--port', String(stubPort)], env);
  await procs.stub.waitForOutput(/payments stub listening/);
  for (const name of ['relay', 'worker', 'gateway'] as const) {
    procs[name] = spawnCli([name], env);
    await procs[name].waitForOutput(name === 'gateway' ? /gateway listening/ : /consuming/);
  }
});
afterAll(async () => {
  for (const name of ['gateway', 'worker', 'relay', 'stub'] as const) await procs[name]?.stop();
  killAllCli();
  await nats?.stop();
});

/** The JSON log lines of a process that carry the given correlation id. */
function linesWith(proc: CliProcess, correlationId: string): Array<Record<string, unknown>> {
  return proc
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.correlationId === correlationId);
}

describe('correlation id and trace context', () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

  it('follows one order through gateway, relay and worker logs, the record and its events', async () => {
    const res = await postOrder(gatewayUrl, 'corr-1', sampleOrder('corr-1'), {
      ...PROCESS_AUTH,
      'x-correlation-id': 'order-corr-1',
      traceparent,
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-correlation-id')).toBe('order-corr-1');
    const orderId = res.body.orderId as string;
    await waitForStatus(gatewayUrl, orderId, 'COMPLETED', undefined, PROCESS_AUTH);

    const expectLine = (proc: CliProcess, component: string, msg: string) => {
      const line = linesWith(proc, 'order-corr-1').find((l) => l.msg === msg);
      expect(line, `${component}: "${msg}"`).toMatchObject({ component, orderId, traceId });
    };
    expectLine(procs.gateway, 'gateway', 'order accepted');
    expectLine(procs.relay, 'relay', 'outbox events published');
    expectLine(procs.worker, 'worker', 'order completed');

    const kv = await new Kvm(await nats.connect()).open(ORDERS_BUCKET);
    const record = decodeOrderRecord((await kv.get(orderId))!.value)!;
    expect(record.context).toMatchObject({ correlationId: 'order-corr-1', traceparent });
    const jsm = await jetstreamManager(await nats.connect());
    for (const type of ['created', 'completed']) {
      const event = await jsm.streams.getMessage(ORDERS_STREAM, {
        last_by_subj: eventSubject(type, orderId),
      });
      expect(event!.header.get('Correlation-Id')).toBe('order-corr-1');
      expect(event!.header.get('traceparent')).toBe(traceparent);
    }
  });

  it('starts a trace when the request has none (or a malformed one), and carries both into a dead letter', async () => {
    await call(stubUrl, 'PUT', '/_stub/faults', { body: { failAlways: true, failStatus: 402 } });
    const res = await postOrder(gatewayUrl, 'corr-2', sampleOrder('corr-2'), {
      ...PROCESS_AUTH,
      'x-correlation-id': 'order-corr-2',
      traceparent: '00-not-a-trace',
    });
    const orderId = res.body.orderId as string;
    await waitForStatus(gatewayUrl, orderId, 'FAILED_PERMANENT', undefined, PROCESS_AUTH);
    const dlq = await waitForDlqEntry(await nats.connect(), orderId);
    expect(dlq.last.correlationId).toBe('order-corr-2');
    expect(dlq.last.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const started = (dlq.last.traceparent as string).split('-')[1];
    const worker = linesWith(procs.worker, 'order-corr-2');
    expect(worker.length).toBeGreaterThan(0);
    expect(worker.every((l) => l.traceId === started)).toBe(true);
    const router = linesWith(procs.relay, 'order-corr-2');
    expect(router.find((l) => l.msg === 'order dead-lettered')).toMatchObject({
      level: 60,
      component: 'dead-letter-router',
      orderId,
      traceId: started,
    });
  });
});
