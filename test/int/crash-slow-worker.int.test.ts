/**
 * Issue 4, case 2: two workers on one order. A worker process is frozen (SIGSTOP at a crash
 * point: alive, but silent, so no working() either) while holding orders; the server
 * redelivers them to the other worker, which completes them. Then the frozen worker resumes
 * (SIGCONT) and carries on with stale messages: compare-and-set and the actor's state decide,
 * it writes nothing backwards and charges nothing twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAllCli, spawnCli } from '../fixtures/cli-process.js';
import { CRASH_TEST_SETTINGS, processEnv, submitPaced } from '../fixtures/crash-run.js';
import { expectInvariantsHold } from '../fixtures/invariants.js';
import { useStack } from '../fixtures/stack.js';
import { waitFor } from '../fixtures/wait.js';

const ctx = useStack({ stack: { env: { ...CRASH_TEST_SETTINGS }, faults: { latencyMs: 5 } } });
afterAll(killAllCli);

describe.each(['worker.after-processing', 'worker.after-payment'] as const)(
  'a worker frozen at %s while another takes its orders over',
  (point) => {
    it('ends with every order COMPLETED once, after the frozen worker resumes', async () => {
      const slow = spawnCli(['worker', '--no-provision'], {
        ...processEnv(ctx.nats, ctx.stack),
        CRASH_POINT: point,
        CRASH_SIGNAL: 'SIGSTOP',
        CRASH_AFTER: '5',
      });
      await slow.waitForOutput(/worker consuming/);
      const { ids } = await submitPaced({
        gatewayUrls: () => [ctx.stack.gatewayUrl],
        prefix: `slow-${point}`,
        count: 100,
        batch: 20,
        everyMs: 100,
      });
      await slow.waitForOutput(new RegExp(`crash point ${point} reached \\(5\\): SIGSTOP`));
      // The other worker completes everything, the frozen one's orders included.
      await expectInvariantsHold(ctx.nc, ctx.stack.stub, ids);

      // The slow worker wakes up with stale deliveries in hand and finishes them.
      slow.child.kill('SIGCONT');
      expect(await slow.stop('SIGTERM')).toBe(0);
      const { report } = await expectInvariantsHold(ctx.nc, ctx.stack.stub, ids);
      expect(report.attention.chargedNotCompleted).toEqual([]);

      const ledger = ctx.stack.stub.ledger;
      const both = ids.filter((id) => ledger.get(id)!.calls > 1);
      for (const id of ids) expect(ledger.get(id)!.charges).toBe(1);
      // Orders really were worked on by both workers.
      if (point === 'worker.after-payment') expect(both.length).toBeGreaterThanOrEqual(1);
      await waitFor('resumed worker logged its stale orders', () =>
        /already settled|order completed/.test(slow.output()) ? true : undefined,
      );
      process.stdout.write(`${point}: ${both.length} orders called by both workers\n`);
    });
  },
);
