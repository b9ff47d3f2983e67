/**
 * Issue 4, case 4: a gateway process SIGKILLed after claiming an idempotency key (before the
 * order exists) and after creating the order (before storing the response and answering),
 * restarted each time. Clients retry with the same key, alternating between that gateway and
 * a gateway that does not crash: every key ends with exactly one order, and no key stays
 * blocked longer than its lease (IDEMPOTENCY_LEASE, 1 s here).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, describe, expect, it } from 'vitest';
import { ORDERS_KV_STREAM, freePort } from '../../src/shared/index.js';
import { killAllCli } from '../fixtures/cli-process.js';
import { CRASH_TEST_SETTINGS, processEnv, submitPaced } from '../fixtures/crash-run.js';
import { startCrashingComponent } from '../fixtures/crashing-component.js';
import { expectInvariantsHold } from '../fixtures/invariants.js';
import { useStack } from '../fixtures/stack.js';

const ctx = useStack({ stack: { env: { ...CRASH_TEST_SETTINGS }, faults: { latencyMs: 5 } } });
afterAll(killAllCli);

async function storedOrders(): Promise<number> {
  const jsm = await jetstreamManager(ctx.nc);
  return (await jsm.streams.info(ORDERS_KV_STREAM)).state.num_subjects ?? 0;
}

describe.each(['gateway.after-claim', 'gateway.after-create'] as const)(
  'a gateway killed at %s',
  (point) => {
    it('gives each of 100 retried keys exactly one order, none blocked beyond the lease', async () => {
      const port = await freePort();
      const crashingUrl = `http://127.0.0.1:${port}`;
      const crashing = await startCrashingComponent(
        'gateway',
        { ...processEnv(ctx.nats, ctx.stack), HTTP_PORT: String(port) },
        { point, crashAfter: [12, 20, 16] },
      );
      const before = await storedOrders();
      const started = Date.now();
      const { ids, maxBlockedMs } = await submitPaced({
        // The first try of every request goes to the gateway that crashes.
        gatewayUrls: () => [crashingUrl, ctx.stack.gatewayUrl],
        prefix: point,
        count: 100,
      });
      const acceptedInMs = Date.now() - started;
      expect(new Set(ids).size).toBe(100);
      // A dead gateway's claim blocks its key for one lease at most (+ one retry interval).
      expect(maxBlockedMs).toBeLessThan(1_000 + 500 + 1_000);
      const { report } = await expectInvariantsHold(ctx.nc, ctx.stack.stub, ids);
      await crashing.stop();
      expect(crashing.crashes()).toBeGreaterThanOrEqual(2);
      expect(report.attention.chargedNotCompleted).toEqual([]);
      // One order per key: the takeover found the order a dead gateway had made.
      expect(await storedOrders()).toBe(before + 100);
      for (const id of ids) expect(ctx.stack.stub.ledger.get(id)!.charges).toBe(1);
      process.stdout.write(
        `${point}: ${crashing.crashes()} crashes; 100 keys accepted in ${acceptedInMs} ms; ` +
          `longest 409 streak of a key ${maxBlockedMs} ms\n`,
      );
    });
  },
);
