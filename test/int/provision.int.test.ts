import { jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { provisionTopology } from '../../src/components.js';
import { StartupError } from '../../src/shared/index.js';
import { runCli } from '../fixtures/cli-process.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';

let nats: NatsFixture;
beforeEach(async () => {
  nats = await startNats();
});
afterEach(async () => {
  await nats?.stop();
});

const ALL = [
  'stream ORDERS',
  'stream ORDERS_ADVISORIES',
  'stream ORDERS_DLQ',
  'stream KV_orders',
  'stream KV_idempotency',
  'consumer ORDERS/order-worker',
  'consumer KV_orders/outbox-relay',
  'consumer ORDERS_ADVISORIES/dead-letter-router',
];

describe('provisioning', () => {
  it('creates every resource once; a second run changes nothing', async () => {
    const nc = await nats.connect();
    const first = await provisionTopology(nc, nats.config());
    expect(first.created.sort()).toEqual([...ALL].sort());
    const second = await provisionTopology(nc, nats.config());
    expect(second).toEqual({ created: [], updated: [], unchanged: expect.arrayContaining(ALL) });

    const jsm = await jetstreamManager(nc);
    const worker = await jsm.consumers.info('ORDERS', 'order-worker');
    expect(worker.config).toMatchObject({
      max_deliver: 5,
      filter_subject: 'orders.events.created.>',
      ack_policy: 'explicit',
    });
    expect(worker.config.backoff).toEqual([300, 600, 1000].map((ms) => ms * 1_000_000));
    const orders = await jsm.streams.info('ORDERS');
    expect(orders.config).toMatchObject({
      retention: 'limits',
      subjects: ['orders.events.>'],
      duplicate_window: 120 * 1e9,
    });
    const idem = await jsm.streams.info('KV_idempotency');
    expect(idem.config).toMatchObject({ max_msgs_per_subject: 1, max_age: 24 * 3600 * 1e9 });
  });

  it('brings tunable settings in line (a new BACKOFF) and reports the update', async () => {
    const nc = await nats.connect();
    await provisionTopology(nc, nats.config());
    const report = await provisionTopology(nc, nats.config({ BACKOFF: '1s,2s', MAX_DELIVER: '4' }));
    expect(report.updated).toEqual(['consumer ORDERS/order-worker']);
    const info = await (await jetstreamManager(nc)).consumers.info('ORDERS', 'order-worker');
    expect(info.config.max_deliver).toBe(4);
  });

  it('refuses a resource with an incompatible setting, naming the resource and the setting', async () => {
    const nc = await nats.connect();
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: 'ORDERS',
      subjects: ['orders.events.>'],
      retention: RetentionPolicy.Workqueue,
    });
    const err = await provisionTopology(nc, nats.config()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(
      /^stream ORDERS exists with incompatible setting retention="workqueue"/,
    );

    // The command says the same in one line and exits 1.
    const { code, output } = await runCli(['provision'], { NATS_URL: nats.urls[0]! });
    expect(code).toBe(1);
    expect(
      output
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('nats-orders:')),
    ).toEqual([
      expect.stringMatching(
        /^nats-orders: stream ORDERS exists with incompatible setting retention="workqueue"/,
      ),
    ]);
  });
});
