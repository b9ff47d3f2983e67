/**
 * Issue 4, case 3: a relay process SIGKILLed between publishing a write's outbox events and
 * acking the write, restarted each time, next to a relay that does not crash. The write comes
 * back (after the relay consumer's ack wait), its events are found in ORDERS or published
 * again under the same Nats-Msg-Id: one copy of each; every event is published (invariants).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { ORDERS_STREAM, eventSubject } from '../../src/shared/index.js';
import { killAllCli } from '../fixtures/cli-process.js';
import { CRASH_TEST_SETTINGS, crashUnderLoad, processEnv } from '../fixtures/crash-run.js';
import { startCrashingComponent } from '../fixtures/crashing-component.js';
import { useStack } from '../fixtures/stack.js';

const ctx = useStack({ stack: { env: { ...CRASH_TEST_SETTINGS }, faults: { latencyMs: 5 } } });
afterAll(killAllCli);

describe('a relay killed after publishing, before acking the write', () => {
  it('publishes each event of 100 orders exactly once', async () => {
    const crashing = await startCrashingComponent('relay', processEnv(ctx.nats, ctx.stack), {
      point: 'relay.after-publish',
      crashAfter: [4, 9, 6],
    });
    // The dead relay's deliveries come back after the relay consumer's ack wait (5 s).
    const { ids, settledMs } = await crashUnderLoad(ctx, crashing, 'relay-crash');

    // Exactly one created and one completed event per order in ORDERS.
    const jsm = await jetstreamManager(ctx.nc);
    const info = await jsm.streams.info(ORDERS_STREAM, { subjects_filter: 'orders.events.>' });
    const counts = info.state.subjects ?? {};
    for (const id of ids) {
      expect(counts[eventSubject('created', id)], id).toBe(1);
      expect(counts[eventSubject('completed', id)], id).toBe(1);
    }
    process.stdout.write(
      `relay.after-publish: ${crashing.crashes()} crashes; all settled ${settledMs} ms after the last submit\n`,
    );
  });
});
