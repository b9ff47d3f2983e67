/**
 * The production NATS layout (deploy/nats: 3 nodes, TLS on client and route connections, one
 * least-privilege user per component) carries the whole system: provisioning as admin, then
 * each component on its own user runs the success, retry, dead-letter and redrive flows with
 * no permission violation in any server's log; and every user is refused each operation
 * outside its role.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionTopology, startComponent, type RunningComponent } from '../../src/components.js';
import {
  createPaymentsStub,
  DEFAULT_FAULTS,
  type PaymentsStub,
} from '../../src/payments-stub/index.js';
import { connectNats, createRootLogger, loadConfig, type Config } from '../../src/shared/index.js';
import { runCli } from '../fixtures/cli-process.js';
import { chargesOf } from '../fixtures/invariants.js';
import {
  PROCESS_API_KEYS_ENV,
  PROCESS_AUTH,
  call,
  natsRequest,
  submitOrder,
  waitForStatus,
} from '../fixtures/orders-client.js';
import {
  startSecureCluster,
  type NatsUser,
  type SecureCluster,
} from '../fixtures/secure-cluster.js';

const ADMIN_API_KEY = 'admin-key-0123456789abcdef';
const log = createRootLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

let cluster: SecureCluster;
let stub: PaymentsStub;
let paymentUrl: string;
let admin: NatsConnection;
let gatewayUrl: string;
const components: RunningComponent[] = [];
const connections: NatsConnection[] = [];

function configFor(user: NatsUser, extra: Record<string, string> = {}): Config {
  return loadConfig({
    ...cluster.env(user),
    PAYMENT_URL: paymentUrl,
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    REPLICAS: '3',
    BACKOFF: '300ms,600ms',
    MAX_DELIVER: '3',
    ...PROCESS_API_KEYS_ENV,
    ADMIN_API_KEY,
    LOG_LEVEL: 'silent',
    ...extra,
  });
}

async function connectAs(user: NatsUser): Promise<NatsConnection> {
  const nc = await connectNats(configFor(user), `test-${user}`, log);
  connections.push(nc);
  return nc;
}

beforeAll(async () => {
  cluster = await startSecureCluster();
  stub = createPaymentsStub({ faults: {} });
  paymentUrl = await stub.listen({ host: '127.0.0.1', port: 0 });
  admin = await connectAs('admin');
  // Only admin may create the streams, consumers and buckets; components only open them.
  await provisionTopology(admin, configFor('admin'));
  for (const name of ['relay', 'worker', 'gateway'] as const) {
    components.push(await startComponent(name, { config: configFor(name), log, provision: false }));
  }
  gatewayUrl = components.find((c) => c.name === 'gateway')!.url!;
}, 90_000);

afterAll(async () => {
  for (const c of components.reverse()) await c.stop();
  await Promise.allSettled(connections.map((nc) => nc.close()));
  await stub?.close();
  await cluster?.stop();
});

const adminHeaders = { authorization: `Bearer ${ADMIN_API_KEY}` };

describe('the 3-node TLS cluster with a least-privilege user per component', () => {
  it('runs the success, retry, dead-letter and redrive flows without a permission violation', async () => {
    stub.setFaults(DEFAULT_FAULTS);
    const completed = await submitOrder(gatewayUrl, 'secure-ok', PROCESS_AUTH);
    await waitForStatus(gatewayUrl, completed, 'COMPLETED', 30_000, PROCESS_AUTH);

    stub.setFaults({ failFirst: 1, failStatus: 503 });
    const retried = await submitOrder(gatewayUrl, 'secure-retry', PROCESS_AUTH);
    const retriedView = await waitForStatus(gatewayUrl, retried, 'COMPLETED', 30_000, PROCESS_AUTH);
    expect(retriedView.history.map((h: { status: string }) => h.status)).toContain(
      'FAILED_TRANSIENT',
    );

    stub.setFaults({ failAlways: true, failStatus: 402 });
    const failed = await submitOrder(gatewayUrl, 'secure-402', PROCESS_AUTH);
    await waitForStatus(gatewayUrl, failed, 'FAILED_PERMANENT', 30_000, PROCESS_AUTH);
    // The gateway's admin routes read ORDERS_DLQ (the router, as relay, wrote it).
    const listed = await call(gatewayUrl, 'GET', '/admin/dlq', { headers: adminHeaders });
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).toContain(failed);

    stub.setFaults(DEFAULT_FAULTS);
    const redrive = await call(gatewayUrl, 'POST', `/admin/dlq/${failed}/redrive`, {
      headers: adminHeaders,
    });
    expect(redrive.status).toBe(200);
    await waitForStatus(gatewayUrl, failed, 'COMPLETED', 30_000, PROCESS_AUTH);

    // The NATS API answers through the gateway's user (allow_responses).
    const viaNats = await natsRequest(
      admin,
      'orders.api.get',
      { orderId: completed },
      { Authorization: PROCESS_AUTH.authorization },
    );
    expect(viaNats.body.status).toBe('COMPLETED');
    // The operator audits everything read-only with `nats-orders check`.
    const check = await runCli(['check'], { ...cluster.env('operator'), PAYMENT_URL: paymentUrl });
    expect(check.code, check.output).toBe(0);

    expect(Object.fromEntries(chargesOf(stub))).toMatchObject({
      [completed]: 1,
      [retried]: 1,
      [failed]: 1,
    });
    // The server logs each refusal ('"$G/user:worker" - Publish Violation - Subject ...').
    expect(cluster.logs()).not.toMatch(/(Publish|Subscription|Authorization) Violation/);
  }, 120_000);

  /** What each user must never do: another component's subjects, other data, the topology. */
  const TOPOLOGY = [
    'pub $JS.API.STREAM.CREATE.EVIL',
    'pub $JS.API.STREAM.CREATE.KV_evil',
    'pub $JS.API.STREAM.UPDATE.ORDERS',
    'pub $JS.API.STREAM.DELETE.ORDERS',
    'pub $JS.API.STREAM.PURGE.ORDERS',
    'pub $JS.API.CONSUMER.DELETE.ORDERS.order-worker',
    'pub $JS.API.CONSUMER.CREATE.ORDERS.order-worker',
    'pub $JS.API.CONSUMER.DURABLE.CREATE.ORDERS.evil',
    'sub >',
    'sub $JS.EVENT.>',
  ];
  const REFUSED: Record<Exclude<NatsUser, 'admin'>, string[]> = {
    gateway: [
      ...TOPOLOGY,
      'pub orders.events.created.evil',
      'pub orders.dlq.evil',
      'pub $JS.API.CONSUMER.MSG.NEXT.ORDERS.order-worker',
      'pub $JS.ACK.ORDERS.order-worker.1.1.1.1.1.1',
      // it may read events (a redrive's lookup), never remove one
      'pub $JS.API.STREAM.MSG.DELETE.ORDERS',
      'sub orders.events.>',
    ],
    worker: [
      ...TOPOLOGY,
      'pub $KV.idempotency.evil',
      'pub $JS.API.DIRECT.GET.KV_idempotency.$KV.idempotency.evil',
      'pub orders.events.created.evil',
      'pub orders.dlq.evil',
      'pub $JS.API.CONSUMER.MSG.NEXT.KV_orders.outbox-relay',
      'pub $JS.API.STREAM.PURGE.ORDERS_DLQ',
      'sub orders.api.>',
    ],
    relay: [
      ...TOPOLOGY,
      'pub $KV.idempotency.evil',
      'pub $JS.API.DIRECT.GET.KV_idempotency.$KV.idempotency.evil',
      'pub $JS.API.CONSUMER.MSG.NEXT.ORDERS.order-worker',
      'pub $JS.API.STREAM.DELETE.ORDERS_DLQ',
      'pub $JS.API.STREAM.PURGE.ORDERS_DLQ',
      'sub orders.api.>',
    ],
    operator: [
      ...TOPOLOGY,
      'pub orders.events.created.evil',
      'pub orders.dlq.evil',
      'pub $KV.idempotency.evil',
      'pub $JS.API.CONSUMER.MSG.NEXT.ORDERS.order-worker',
      'pub $JS.ACK.ORDERS.order-worker.1.1.1.1.1.1',
      'sub orders.api.>',
    ],
  };

  /** True when the server refuses the operation with a permissions violation. */
  async function refused(nc: NatsConnection, operation: string): Promise<boolean> {
    const [kind, subject] = operation.split(' ') as ['pub' | 'sub', string];
    if (kind === 'sub') {
      const sub = nc.subscribe(subject);
      const outcome = await Promise.race([sub.closed, delay(3_000).then(() => 'still open')]);
      if (outcome === 'still open') sub.unsubscribe();
      return outcome instanceof PermissionViolationError;
    }
    try {
      await nc.request(subject, new TextEncoder().encode('{}'), { timeout: 3_000 });
      return false; // answered: allowed
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined;
      return err instanceof PermissionViolationError || cause instanceof PermissionViolationError;
    }
  }

  for (const [user, operations] of Object.entries(REFUSED)) {
    it(`refuses the ${user} user every operation outside its role`, async () => {
      const nc = await connectAs(user as NatsUser);
      const allowed: string[] = [];
      for (const operation of operations)
        if (!(await refused(nc, operation))) allowed.push(operation);
      expect(allowed).toEqual([]);
      // The connection survives its refusals, and the server logs them (the words the flow
      // test looks for).
      expect(nc.isClosed()).toBe(false);
      expect(cluster.logs()).toMatch(new RegExp(`user:${user}" - Publish Violation`));
      expect(cluster.logs()).toMatch(new RegExp(`user:${user}" - Subscription Violation`));
    }, 60_000);
  }
});
