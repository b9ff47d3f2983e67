/**
 * Redrive and purge of dead letters, through the admin HTTP API and `nats-orders dlq`: a
 * redriven order starts a new generation with a fresh delivery budget and completes once the
 * payment service recovers, without a second charge when the lost attempt had in fact charged.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createGateway } from '../../src/gateway/index.js';
import { DEFAULT_FAULTS } from '../../src/payments-stub/index.js';
import { createDeadLetterDesk } from '../../src/relay/index.js';
import {
  createRootLogger,
  historyMovesBackwards,
  readOrderHistories,
} from '../../src/shared/index.js';
import { dlqCount, dlqEntries, waitForDlqEntry } from '../fixtures/dlq.js';
import { runCli, killAllCli } from '../fixtures/cli-process.js';
import { call, submitOrder, waitForStatus } from '../fixtures/orders-client.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

const ADMIN_KEY = 'admin-secret-key';
const ctx = useStack({ stack: { env: { ADMIN_API_KEY: ADMIN_KEY } } });
const admin = { authorization: `Bearer ${ADMIN_KEY}` };
afterAll(killAllCli);
beforeEach(() => {
  ctx.stack.stub.setFaults(DEFAULT_FAULTS);
});

const submit = (key: string) => submitOrder(ctx.stack.gatewayUrl, key);

/** Submits orders and waits until each is FAILED_PERMANENT with its dead letter stored. */
async function deadLettered(keys: string[]): Promise<string[]> {
  const ids = await Promise.all(keys.map(submit));
  for (const id of ids) {
    await waitForStatus(ctx.stack.gatewayUrl, id, 'FAILED_PERMANENT');
    await waitForDlqEntry(ctx.nc, id);
  }
  return ids;
}

const statuses = (order: { history: Array<{ status: string }> }) =>
  order.history.map((h) => h.status);

const cli = (...args: string[]) => runCli(['dlq', ...args], { NATS_URL: ctx.nats.urls.join(',') });

describe('redrive', () => {
  it('an order charged during a lost attempt, redriven after the service recovers, completes without a second charge', async () => {
    // The service takes the money on the first call, then answers 500 to every call.
    ctx.stack.stub.setFaults({ failAlways: true, failStatus: 500, chargeBeforeFailing: true });
    const [orderId] = await deadLettered(['redrive-unknown-outcome']);
    expect(ctx.stack.stub.ledger.get(orderId!)).toMatchObject({ charges: 1, calls: 5 });

    const shown = await call(ctx.stack.gatewayUrl, 'GET', `/admin/dlq/${orderId}`, {
      headers: admin,
    });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      orderId,
      tenant: 'default',
      generation: 0,
      kind: 'max_deliveries',
      attempts: 5,
      lastError: { code: 'PAYMENT_UNAVAILABLE_500' },
    });

    ctx.stack.stub.setFaults(DEFAULT_FAULTS);
    const redriven = await call(ctx.stack.gatewayUrl, 'POST', `/admin/dlq/${orderId}/redrive`, {
      headers: admin,
    });
    expect(redriven.status).toBe(200);
    expect(redriven.body).toMatchObject({ orderId, outcome: 'redriven', status: 'CREATED' });

    const order = await waitForStatus(ctx.stack.gatewayUrl, orderId!, 'COMPLETED');
    expect(statuses(order)).toEqual([
      'CREATED',
      ...Array<string[]>(4).fill(['PROCESSING', 'FAILED_TRANSIENT']).flat(),
      'PROCESSING',
      'FAILED_TRANSIENT',
      'FAILED_PERMANENT',
      'CREATED',
      'PROCESSING',
      'COMPLETED',
    ]);
    expect(order.attempts).toBe(6);
    // One charge: the sixth call got the stored charge back.
    expect(ctx.stack.stub.ledger.get(orderId!)).toMatchObject({ charges: 1, calls: 6 });
    // The dead letter is gone; a second redrive finds nothing.
    expect((await dlqEntries(ctx.nc, orderId!)).count).toBe(0);
    const again = await call(ctx.stack.gatewayUrl, 'POST', `/admin/dlq/${orderId}/redrive`, {
      headers: admin,
    });
    expect(again.status).toBe(404);
    expect(again.body.code).toBe('DEAD_LETTER_NOT_FOUND');
    // Every stored revision moves forward; the redrive is the one step into a new generation.
    const histories = await readOrderHistories(jetstream(ctx.nc));
    expect(historyMovesBackwards(histories.get(orderId!)!)).toBe(false);
    const revisions = histories.get(orderId!)!.map((r) => r.record);
    expect(revisions.at(-1)!.context.generation).toBe(1);
    // The first generation's dead_lettered event, published, was not carried into the second.
    expect(revisions.at(-1)!.outbox.map((e) => e.type)).toEqual(['completed']);
  });

  it('redrives all dead letters matching a filter from the CLI, and purges the rest', async () => {
    const before = await dlqCount(ctx.nc);
    ctx.stack.stub.setFaults({ failAlways: true, failStatus: 503 });
    const unavailable = await deadLettered(['filter-503-a', 'filter-503-b', 'filter-503-c']);
    ctx.stack.stub.setFaults({ failAlways: true, failStatus: 402 });
    const declined = await deadLettered(['filter-402-a', 'filter-402-b']);
    expect(await dlqCount(ctx.nc)).toBe(before + 5);
    ctx.stack.stub.setFaults(DEFAULT_FAULTS);

    const listed = await cli('ls', '--error-code', 'PAYMENT_UNAVAILABLE_503', '--json');
    expect(listed.code).toBe(0);
    const entries = JSON.parse(listed.output.slice(listed.output.indexOf('{'))).entries as Array<{
      orderId: string;
    }>;
    expect(entries.map((e) => e.orderId).sort()).toEqual([...unavailable].sort());

    const table = await cli('ls', '--kind', 'terminated');
    expect(table.code).toBe(0);
    for (const id of declined) expect(table.output).toContain(id);
    expect(table.output).toContain('2 dead letter(s)');

    const redriven = await cli('redrive', '--all', '--error-code', 'PAYMENT_UNAVAILABLE_503');
    expect(redriven.code).toBe(0);
    expect(redriven.output).toContain('3 redriven, 0 not');
    for (const id of unavailable) {
      expect(redriven.output).toContain(`${id}: redriven`);
      await waitForStatus(ctx.stack.gatewayUrl, id, 'COMPLETED');
      expect(ctx.stack.stub.ledger.get(id)).toMatchObject({ charges: 1 });
      expect((await dlqEntries(ctx.nc, id)).count).toBe(0);
    }
    // The declined orders were not touched.
    for (const id of declined) {
      expect((await call(ctx.stack.gatewayUrl, 'GET', `/orders/${id}`)).body.status).toBe(
        'FAILED_PERMANENT',
      );
      expect((await dlqEntries(ctx.nc, id)).count).toBe(1);
    }

    // Handled by hand (say, the customer was told): purge them. The orders stay as they are.
    const purged = await cli('purge', '--all', '--kind', 'terminated');
    expect(purged.code).toBe(0);
    expect(purged.output).toContain('2 dead letter(s) purged');
    for (const id of declined) {
      expect((await dlqEntries(ctx.nc, id)).count).toBe(0);
      expect((await call(ctx.stack.gatewayUrl, 'GET', `/orders/${id}`)).body.status).toBe(
        'FAILED_PERMANENT',
      );
    }
    expect(ctx.stack.stub.ledger.get(declined[0]!)).toMatchObject({ charges: 0, calls: 1 });
  });

  it('redrive --all handles each dead letter it started with once, while the redriven orders die again', async () => {
    // The CLI redrives entries as it reads them, and orders that fail again at once add entries to
    // the stream being read: the command must neither redrive those nor wait for them. More
    // entries than one pull brings (100), so the read is still going when they arrive.
    ctx.stack.stub.setFaults({ failAlways: true, failStatus: 402 });
    const ids = await deadLettered(Array.from({ length: 150 }, (_, i) => `again-402-${i}`));
    const redriven = await cli('redrive', '--all', '--error-code', 'PAYMENT_REJECTED_402');
    expect(redriven.code).toBe(0);
    expect(redriven.output).toContain('150 redriven, 0 not');
    for (const id of ids) {
      expect(redriven.output.split(`${id}: redriven`)).toHaveLength(2);
      const died = await waitFor(`${id} dead-lettered again`, async () => {
        const entries = await dlqEntries(ctx.nc, id);
        return entries.last?.generation === 1 ? entries : undefined;
      });
      expect(died.count).toBe(1);
      expect(ctx.stack.stub.ledger.get(id)).toMatchObject({ charges: 0, calls: 2 });
    }
    // Each order's last write carries only its new dead_lettered event: the redrive dropped the
    // published one of the first generation instead of carrying it on.
    const histories = await readOrderHistories(jetstream(ctx.nc));
    for (const id of ids) {
      const last = histories.get(id)!.at(-1)!.record;
      expect(last.outbox.map((e) => [e.type, e.data.generation])).toEqual([['dead_lettered', 1]]);
    }
    const purged = await cli('purge', '--all', '--error-code', 'PAYMENT_REJECTED_402');
    expect(purged.output).toContain('150 dead letter(s) purged');
  });

  it('pages a bulk redrive through the admin API, and the walk ends though orders die again', async () => {
    ctx.stack.stub.setFaults({ failAlways: true, failStatus: 422 });
    const ids = await deadLettered(['page-422-a', 'page-422-b', 'page-422-c']);
    const filter = { errorCode: 'PAYMENT_REJECTED_422' };
    const redrive = (body: object) =>
      call(ctx.stack.gatewayUrl, 'POST', '/admin/dlq/redrive', { headers: admin, body });

    // The 422 stays: every redriven order dies again at once and adds an entry to the stream.
    const first = await redrive({ ...filter, limit: 2 });
    expect(first.status).toBe(200);
    const firstIds: string[] = first.body.results.map((r: { orderId: string }) => r.orderId);
    const [thirdId, ...none] = ids.filter((id) => !firstIds.includes(id));
    expect(none).toEqual([]);
    expect(first.body).toMatchObject({
      counts: { redriven: 2, already_redriven: 0, not_redrivable: 0 },
      truncated: true,
      resume: { afterSeq: first.body.results[1].seq },
    });
    for (const id of firstIds)
      await waitFor(`${id} dead-lettered again`, async () =>
        (await dlqEntries(ctx.nc, id)).last?.generation === 1 ? true : undefined,
      );

    // The next page handles the third entry only: not the new entries of the first two.
    const second = await redrive({ ...filter, limit: 2, ...first.body.resume });
    expect(second.status).toBe(200);
    expect(second.body).toEqual({
      counts: { redriven: 1, already_redriven: 0, not_redrivable: 0 },
      results: [expect.objectContaining({ orderId: thirdId, outcome: 'redriven' })],
      truncated: false,
    });

    await waitFor('third order dead-lettered again', async () =>
      (await dlqEntries(ctx.nc, thirdId!)).last?.generation === 1 ? true : undefined,
    );

    // Listing pages the same way (every entry is there now: three, one per order).
    const list = (query: string) =>
      call(ctx.stack.gatewayUrl, 'GET', `/admin/dlq?errorCode=PAYMENT_REJECTED_422${query}`, {
        headers: admin,
      });
    const all = await list('');
    expect(all.body).toMatchObject({ truncated: false });
    expect(all.body.entries).toHaveLength(3);
    const firstPage = await list('&limit=1');
    expect(firstPage.body).toMatchObject({
      truncated: true,
      resume: { afterSeq: all.body.entries[0].seq },
    });
    const rest = await list(`&afterSeq=${firstPage.body.resume.afterSeq}`);
    const seqs = (page: { body: { entries: Array<{ seq: number }> } }) =>
      page.body.entries.map((e) => e.seq);
    expect([...seqs(firstPage), ...seqs(rest)]).toEqual(seqs(all));
    const [firstSeq, secondSeq] = seqs(all);
    const cliPage = await cli('ls', '--error-code', 'PAYMENT_REJECTED_422', '--limit', '1');
    expect(cliPage.output).toContain(`1 dead letter(s); more match: --after ${firstSeq}`);
    const cliNext = await cli(
      'ls',
      '--error-code',
      'PAYMENT_REJECTED_422',
      '--after',
      `${firstSeq}`,
    );
    expect(cliNext.output).toContain('2 dead letter(s)\n');
    expect(cliNext.output).toMatch(new RegExp(`^${secondSeq} `, 'm'));

    const badPage = await redrive({ ...filter, limit: 0 });
    expect(badPage.status).toBe(400);
    expect((await cli('purge', '--all', '--error-code', 'PAYMENT_REJECTED_422')).output).toContain(
      '3 dead letter(s) purged',
    );
  });

  it('refuses what cannot run again, and guards the admin API', async () => {
    // A created event for an order that does not exist: dead-lettered as ORDER_NOT_FOUND.
    await jetstream(ctx.nc).publish('orders.events.created.ghost-order', '{}');
    const ghost = await waitForDlqEntry(ctx.nc, 'ghost-order');
    expect(ghost.last).toMatchObject({ orderId: 'ghost-order', kind: 'terminated' });
    const refused = await call(ctx.stack.gatewayUrl, 'POST', '/admin/dlq/ghost-order/redrive', {
      headers: admin,
    });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({
      code: 'DEAD_LETTER_NOT_REDRIVABLE',
      detail: 'no such order in the orders bucket',
    });
    const viaCli = await cli('redrive', 'ghost-order');
    expect(viaCli.code).toBe(1);
    expect(viaCli.output).toContain('ghost-order: not_redrivable');
    expect((await cli('show', 'no-such-order')).output).toContain(
      'nats-orders: no dead letter for order no-such-order',
    );
    expect((await cli('redrive')).code).toBe(1);

    const removed = await call(ctx.stack.gatewayUrl, 'DELETE', '/admin/dlq/ghost-order', {
      headers: admin,
    });
    expect(removed.body).toEqual({ purged: 1 });

    // Auth: no key, a tenant's key or a wrong key get 401; bad queries and bodies 400.
    expect((await call(ctx.stack.gatewayUrl, 'GET', '/admin/dlq')).status).toBe(401);
    const wrong = await call(ctx.stack.gatewayUrl, 'GET', '/admin/dlq', {
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.status).toBe(401);
    const badQuery = await call(ctx.stack.gatewayUrl, 'GET', '/admin/dlq?limit=0', {
      headers: admin,
    });
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.code).toBe('INVALID_FIELD');
    const unknownField = await call(ctx.stack.gatewayUrl, 'POST', '/admin/dlq/redrive', {
      headers: admin,
      body: { everything: true },
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.code).toBe('UNKNOWN_FIELD');
    const list = await call(ctx.stack.gatewayUrl, 'GET', '/admin/dlq?limit=1', { headers: admin });
    expect(list.status).toBe(200);
    expect(list.body.entries.length).toBeLessThanOrEqual(1);
  });

  it('answers 403 ADMIN_API_DISABLED when no ADMIN_API_KEY is set', async () => {
    const log = createRootLogger('silent');
    const gateway = await createGateway({
      nc: ctx.nc,
      config: { ...ctx.stack.config, adminApiKey: undefined },
      log,
      deadLetters: createDeadLetterDesk({
        js: jetstream(ctx.nc),
        jsm: await jetstreamManager(ctx.nc),
        log,
        redriveOrder: () => Promise.reject(new Error('not reached')),
      }),
    });
    const res = await gateway.app.inject({ method: 'GET', url: '/admin/dlq', headers: admin });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'ADMIN_API_DISABLED' });
    await gateway.app.close();
  });
});
