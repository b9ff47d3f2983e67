/**
 * Issue 4, case 1: a worker process SIGKILLed at each named point between its durable steps,
 * restarted each time, next to a worker that does not crash. 100 orders per crash point; the
 * invariant checker must report zero violations and every order must complete with one charge.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAllCli } from '../fixtures/cli-process.js';
import { CRASH_TEST_SETTINGS, crashUnderLoad, processEnv } from '../fixtures/crash-run.js';
import { startCrashingComponent } from '../fixtures/crashing-component.js';
import { useStack } from '../fixtures/stack.js';

const ctx = useStack({ stack: { env: { ...CRASH_TEST_SETTINGS }, faults: { latencyMs: 5 } } });
afterAll(killAllCli);

describe.each([
  'worker.after-processing',
  'worker.after-payment',
  'worker.after-completed',
] as const)('a worker killed at %s', (point) => {
  it('loses nothing and charges each of 100 orders once', async () => {
    const crashing = await startCrashingComponent('worker', processEnv(ctx.nats, ctx.stack), {
      point,
      crashAfter: [2, 5, 3],
    });
    const { ids, settledMs } = await crashUnderLoad(ctx, crashing, point);

    const ledger = ctx.stack.stub.ledger;
    const resumed = ids.filter((id) => ledger.get(id)!.calls > 1);
    // What happened to the orders a dead worker held: each was resumed and charged once.
    for (const id of ids) expect(ledger.get(id)!.charges).toBe(1);
    if (point === 'worker.after-payment') {
      // Every crash left one order charged but not COMPLETED: another worker called again.
      expect(resumed.length).toBeGreaterThanOrEqual(crashing.crashes());
      const gaps = resumed
        .map((id) => {
          const times = ledger.get(id)!.callTimes;
          return times[1]! - times[0]!;
        })
        .sort((a, b) => a - b);
      process.stdout.write(
        `${point}: ${crashing.crashes()} crashes; ${resumed.length} orders paid again after ` +
          `${gaps[0]}..${gaps.at(-1)} ms (median ${gaps[Math.floor(gaps.length / 2)]}); ` +
          `all settled ${settledMs} ms after the last submit\n`,
      );
      // A dead worker's order comes back once the ack wait (backoff[0] = 300 ms), counted from
      // the delivery, has passed: never at once, and well within a second.
      expect(gaps[0]!).toBeGreaterThanOrEqual(100);
      expect(gaps.at(-1)!).toBeLessThanOrEqual(1_300);
    } else {
      process.stdout.write(
        `${point}: ${crashing.crashes()} crashes; all settled ${settledMs} ms after the last submit\n`,
      );
    }
  });
});
