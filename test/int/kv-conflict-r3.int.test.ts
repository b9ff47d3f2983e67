/**
 * What a replicated bucket answers to writers that race on one key, on a real 3-node cluster.
 * Besides "wrong last sequence" with the stream's last sequence (10071), a clustered stream
 * refuses a compare-and-set on a key whose earlier write is still being proposed with the
 * constant "wrong last sequence" (10164). Both mean "someone else wrote, or is writing, this
 * key": the caller re-reads and decides again. Treated as an error, the second one turned a race
 * into a 500 (an idempotency claim), a redelivery (a worker's write) or a failed ceiling.
 */
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActorStore, initialRecord } from '../../src/actors/index.js';
import { provisionTopology } from '../../src/components.js';
import {
  encodeOrderRecord,
  isKvConflict,
  openOrdersBucket,
  apiErrorCode,
} from '../../src/shared/index.js';
import { orderInput } from '../fixtures/order-input.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';

const RACERS = 40;
let nats: NatsFixture;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats({ size: 3 });
  nc = await nats.connect();
  await provisionTopology(nc, nats.config());
}, 60_000);
afterAll(async () => {
  await nats?.stop();
});

describe('racing writes to one key on R3', () => {
  it('refuses all but one compare-and-set, each refusal a conflict', async () => {
    const kv = await openOrdersBucket(jetstream(nc));
    const value = encodeOrderRecord(initialRecord({ ...orderInput, orderId: 'race-raw' }));
    const codes = new Map<number | undefined, number>();
    let applied = 0;
    // Rounds until the cluster has answered with both codes, or enough rounds to say it does not.
    for (let round = 0; round < 20 && !codes.has(10164); round++) {
      const key = `race-raw-${round}`;
      const revision = await kv.create(key, value);
      const results = await Promise.allSettled(
        Array.from({ length: RACERS }, () => kv.update(key, value, revision)),
      );
      applied += results.filter((r) => r.status === 'fulfilled').length;
      for (const r of results) {
        if (r.status === 'fulfilled') continue;
        expect(isKvConflict(r.reason), String(r.reason)).toBe(true);
        const code = apiErrorCode(r.reason);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    // One write per round wins; the cluster answered the others with the in-flight refusal too.
    expect(applied).toBeGreaterThan(0);
    expect(codes.has(10164)).toBe(true);
  }, 60_000);

  it('lets every racing actor-store update finish: one applies, the others re-read', async () => {
    const store = createActorStore({ kv: await openOrdersBucket(jetstream(nc)) });
    const { order } = await store.create({ ...orderInput, orderId: 'race-store' });
    const results = await Promise.all(
      Array.from({ length: RACERS }, () =>
        store.update('race-store', (record) =>
          record.status === 'CREATED'
            ? { type: 'CANCEL', at: '2026-01-01T00:00:01.000Z' }
            : undefined,
        ),
      ),
    );
    expect(results.filter((r) => r.kind === 'applied')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'unchanged')).toHaveLength(RACERS - 1);
    const stored = await store.load('race-store');
    expect(stored).toMatchObject({ revision: order.revision + 1, record: { status: 'CANCELLED' } });
  }, 60_000);
});
