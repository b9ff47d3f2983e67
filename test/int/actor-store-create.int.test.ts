/**
 * The actor store's create when the server refuses it. A refusal for an order that exists
 * (a takeover after a crashed gateway) returns that order. A refusal for a key that is not there
 * (seen on R3 under load: "wrong last sequence" for a new key, nats-server#7281) is tried again
 * and creates the order; only refusals that keep coming end in ORDER_CREATE_RACE.
 */
import { jetstream } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActorStore } from '../../src/actors/index.js';
import { provisionTopology } from '../../src/components.js';
import { isKvConflict, openOrdersBucket } from '../../src/shared/index.js';
import { startNats, type NatsFixture } from '../fixtures/nats.js';
import { orderInput } from '../fixtures/order-input.js';

let nats: NatsFixture;
let nc: NatsConnection;
let kv: KV;

beforeAll(async () => {
  nats = await startNats();
  nc = await nats.connect('actor-store-create');
  await provisionTopology(nc, nats.config());
  kv = await openOrdersBucket(jetstream(nc));
  await kv.put('already-taken', '{}');
});
afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

/**
 * The bucket, except that its first `refusals` creates get the server's real refusal (a create
 * of a key that exists) and store nothing.
 */
function refusingCreates(refusals: number): KV {
  let left = refusals;
  return new Proxy(kv, {
    get(target, prop) {
      if (prop === 'create')
        return (key: string, value: Uint8Array) =>
          left-- > 0 ? target.create('already-taken', value) : target.create(key, value);
      const member = Reflect.get(target, prop, target) as unknown;
      return typeof member === 'function' ? member.bind(target) : member;
    },
  });
}

describe('creating an order', () => {
  it('tries a refused create again when the key is not there, and creates the order', async () => {
    const store = createActorStore({ kv: refusingCreates(2) });
    const { order, created } = await store.create({ ...orderInput, orderId: 'refused-twice' });
    expect(created).toBe(true);
    expect(order.record.status).toBe('CREATED');
    const stored = await kv.get('refused-twice');
    expect(stored?.revision).toBe(order.revision);
  });

  it('returns the order a refused create finds, without writing it again', async () => {
    const store = createActorStore({ kv });
    const first = await store.create({ ...orderInput, orderId: 'made-once' });
    const again = await store.create({ ...orderInput, orderId: 'made-once', at: 'later' });
    expect(again.created).toBe(false);
    expect(again.order).toEqual(first.order);
    expect((await kv.get('made-once'))?.revision).toBe(first.order.revision);
  });

  it('gives up with ORDER_CREATE_RACE when every create is refused and nothing can be read', async () => {
    const store = createActorStore({ kv: refusingCreates(3) });
    const error = await store.create({ ...orderInput, orderId: 'always-refused' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code: 'ORDER_CREATE_RACE' });
    expect(isKvConflict((error as Error).cause)).toBe(true);
    expect(await kv.get('always-refused')).toBeNull();
  });
});
