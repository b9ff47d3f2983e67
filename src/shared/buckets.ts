/** Binding to the provisioned buckets without admin rights (`Kvm.open` never creates). */
import { setTimeout as delay } from 'node:timers/promises';
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { IDEMPOTENCY_BUCKET, ORDERS_BUCKET } from './topology.js';

export async function openOrdersBucket(js: JetStreamClient): Promise<KV> {
  return new Kvm(js).open(ORDERS_BUCKET);
}

export async function openIdempotencyBucket(js: JetStreamClient): Promise<KV> {
  return new Kvm(js).open(IDEMPOTENCY_BUCKET);
}

/**
 * The pause before re-reading after a lost compare-and-set. On a replicated bucket a direct
 * get may be served by a replica that has not applied the winning write yet; a few ms lets it
 * catch up, and the next compare-and-set tells whether it did.
 */
export function pauseAfterConflict(attempt: number): Promise<void> {
  return delay(Math.min(2 ** attempt, 50));
}
