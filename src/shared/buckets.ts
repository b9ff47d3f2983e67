/** Binding to the provisioned buckets without admin rights (`Kvm.open` never creates). */
import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { IDEMPOTENCY_BUCKET, ORDERS_BUCKET } from './topology.js';

export async function openOrdersBucket(js: JetStreamClient): Promise<KV> {
  return new Kvm(js).open(ORDERS_BUCKET);
}

export async function openIdempotencyBucket(js: JetStreamClient): Promise<KV> {
  return new Kvm(js).open(IDEMPOTENCY_BUCKET);
}
