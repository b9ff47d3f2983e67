import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startComponent } from '../../src/components.js';
import { ADVISORIES_STREAM, ORDERS_STREAM, createRootLogger } from '../../src/shared/index.js';
import { dlqCount, dlqEntries } from '../fixtures/dlq.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import { getOrder, postOrder, sampleOrder } from '../fixtures/orders-client.js';
import { startStack, type Stack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

let nats: NatsFixture;
let stack: Stack;

beforeAll(async () => {
  nats = await startNats();
  stack = await startStack(nats, { faults: { failAlways: true, failStatus: 500 } });
});
afterAll(async () => {
  await stack?.stop();
  await nats?.stop();
});

describe('dead-letter router downtime', () => {
  it('dead-letters exactly once every order whose retries ran out while it was down', async () => {
    const nc = await nats.connect();
    const jsm = await jetstreamManager(nc);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++)
      ids.push((await postOrder(stack.gatewayUrl, `down-${i}`, sampleOrder(`d${i}`))).body.orderId);
    await waitFor('20 events published', async () =>
      (await jsm.streams.info(ORDERS_STREAM)).state.messages >= 20 ? true : undefined,
    );
    // The relay process runs the router: stop it while the retries run out.
    const relay = stack.components.find((c) => c.name === 'relay')!;
    await relay.stop();
    stack.components.splice(stack.components.indexOf(relay), 1);
    await waitFor(
      '20 MAX_DELIVERIES advisories captured',
      async () =>
        (await jsm.streams.info(ADVISORIES_STREAM)).state.messages === 20 ? true : undefined,
      20_000,
    );
    expect(await dlqCount(nc)).toBe(0);

    stack.components.push(
      await startComponent('relay', {
        config: stack.config,
        log: createRootLogger('silent'),
        provision: false,
      }),
    );
    await waitFor(
      '20 dead letters',
      async () => ((await dlqCount(nc)) === 20 ? true : undefined),
      20_000,
    );
    for (const id of ids) {
      expect((await dlqEntries(nc, id)).count).toBe(1);
      expect((await getOrder(stack.gatewayUrl, id)).body.status).toBe('FAILED_PERMANENT');
      expect(stack.stub.ledger.get(id)).toMatchObject({ charges: 0, calls: 5 });
    }
  });
});
