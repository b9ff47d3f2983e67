/**
 * The fixed NATS resource names (design.md section 2) and the one idempotent provisioning step
 * that creates them. Every component may run `provision` at start; `nats-orders provision` runs
 * it alone. A resource that exists with an incompatible setting is an error naming both.
 */
import { isOrderId } from './order-record.js';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { StartupError, apiErrorCode } from './errors.js';

export const ORDERS_STREAM = 'ORDERS';
export const ORDERS_DLQ_STREAM = 'ORDERS_DLQ';
export const ADVISORIES_STREAM = 'ORDERS_ADVISORIES';
export const WORKER_CONSUMER = 'order-worker';
export const IDEMPOTENCY_BUCKET = 'idempotency';
export const ORDERS_BUCKET = 'orders';
/** The stream behind the `orders` KV bucket, and the relay's durable consumer on it. */
export const ORDERS_KV_STREAM = `KV_${ORDERS_BUCKET}`;
export const IDEMPOTENCY_KV_STREAM = `KV_${IDEMPOTENCY_BUCKET}`;
export const OUTBOX_RELAY_CONSUMER = 'outbox-relay';
export const DEAD_LETTER_CONSUMER = 'dead-letter-router';

export const API_CREATE_SUBJECT = 'orders.api.create';
export const API_GET_SUBJECT = 'orders.api.get';
export const API_CANCEL_SUBJECT = 'orders.api.cancel';
export const API_QUEUE_GROUP = 'orders-gateway';

export const eventSubject = (type: string, orderId: string): string =>
  `orders.events.${type}.${orderId}`;
export const dlqSubject = (orderId: string): string => `orders.dlq.${orderId}`;

const CREATED_PREFIX = eventSubject('created', '');

/** The order a `created` event names, or undefined for any other subject or a malformed id. */
export function createdEventOrderId(subject: string): string | undefined {
  if (!subject.startsWith(CREATED_PREFIX)) return undefined;
  const id = subject.slice(CREATED_PREFIX.length);
  return isOrderId(id) ? id : undefined;
}

export const MAX_DELIVERIES_ADVISORY = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${ORDERS_STREAM}.${WORKER_CONSUMER}`;
export const MSG_TERMINATED_ADVISORY = `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${ORDERS_STREAM}.${WORKER_CONSUMER}`;

export interface TopologySettings {
  replicas: number;
  maxDeliver: number;
  backoffMs: readonly number[];
  idempotencyTtlMs: number;
  /** Events must stay until the DLQ router fetched them by sequence: limits retention. */
  eventsMaxAgeMs?: number;
}

const DUPLICATE_WINDOW_MS = 2 * 60_000;
const WEEK_MS = 7 * 86_400_000;
/** The orders bucket keeps this many revisions per order: enough to audit a full lifecycle. */
export const ORDERS_HISTORY = 10;

type NamedStreamConfig = Partial<StreamConfig> & { name: string };

function streamConfigs(s: TopologySettings): NamedStreamConfig[] {
  const common = { num_replicas: s.replicas, storage: StorageType.File };
  return [
    {
      ...common,
      name: ORDERS_STREAM,
      subjects: ['orders.events.>'],
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
      max_age: nanos(s.eventsMaxAgeMs ?? WEEK_MS),
      discard: DiscardPolicy.Old,
    },
    {
      ...common,
      name: ADVISORIES_STREAM,
      subjects: [MAX_DELIVERIES_ADVISORY, MSG_TERMINATED_ADVISORY],
      retention: RetentionPolicy.Limits,
      max_age: nanos(WEEK_MS),
    },
    {
      ...common,
      name: ORDERS_DLQ_STREAM,
      subjects: ['orders.dlq.>'],
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    },
    kvStreamConfig(ORDERS_BUCKET, s.replicas, ORDERS_HISTORY, 0),
    kvStreamConfig(IDEMPOTENCY_BUCKET, s.replicas, 1, s.idempotencyTtlMs),
  ];
}

/** The stream a KV bucket is made of, as `Kvm.create` would make it (so `nats kv` sees a bucket). */
function kvStreamConfig(
  bucket: string,
  replicas: number,
  history: number,
  ttlMs: number,
): NamedStreamConfig {
  return {
    name: `KV_${bucket}`,
    subjects: [`$KV.${bucket}.>`],
    num_replicas: replicas,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: history,
    max_age: nanos(ttlMs),
    discard: DiscardPolicy.New,
    allow_rollup_hdrs: true,
    allow_direct: true,
  };
}

function consumerConfigs(
  s: TopologySettings,
): Array<{ stream: string; config: Partial<ConsumerConfig> }> {
  return [
    {
      stream: ORDERS_STREAM,
      config: {
        durable_name: WORKER_CONSUMER,
        filter_subject: 'orders.events.created.>',
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        max_deliver: s.maxDeliver,
        backoff: s.backoffMs.map((ms) => nanos(ms)),
        max_ack_pending: 10_000,
      },
    },
    {
      // The outbox relay follows every write to the orders bucket from where it left off, so a
      // relay that starts late reads only what it has not seen: no scan of the bucket.
      stream: ORDERS_KV_STREAM,
      config: {
        durable_name: OUTBOX_RELAY_CONSUMER,
        filter_subject: `$KV.${ORDERS_BUCKET}.>`,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        // How long a dead relay's writes wait before another relay publishes them. A handler
        // is one publish and one CAS; a slower one only publishes twice (deduplicated).
        ack_wait: nanos(5_000),
        max_deliver: -1,
        max_ack_pending: 10_000,
      },
    },
    {
      // The dead-letter router reads the captured advisories from where it left off, so
      // advisories emitted while it was down are handled when it comes back.
      stream: ADVISORIES_STREAM,
      config: {
        durable_name: DEAD_LETTER_CONSUMER,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(30_000),
        max_deliver: -1,
        max_ack_pending: 1_000,
      },
    },
  ];
}

/** Settings that cannot be changed in place: a mismatch needs an operator, not an update. */
const FIXED_STREAM_SETTINGS = ['subjects', 'retention', 'storage', 'max_msgs_per_subject'] as const;
const FIXED_CONSUMER_SETTINGS = ['filter_subject', 'ack_policy', 'deliver_policy'] as const;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function incompatible(
  kind: string,
  name: string,
  setting: string,
  have: unknown,
  want: unknown,
): never {
  throw new StartupError(
    `${kind} ${name} exists with incompatible setting ${setting}=${JSON.stringify(have)} ` +
      `(nats-orders needs ${JSON.stringify(want)}); fix or remove it with the nats CLI, then provision again`,
  );
}

/** Tunable settings that differ from the wanted ones; an update brings them in line. */
function driftedKeys(have: object, want: object): string[] {
  return Object.entries(want)
    .filter(([key, value]) => !same((have as Record<string, unknown>)[key], value))
    .map(([key]) => key);
}

export interface ProvisionReport {
  created: string[];
  updated: string[];
  unchanged: string[];
}

export async function provision(
  jsm: JetStreamManager,
  s: TopologySettings,
): Promise<ProvisionReport> {
  const report: ProvisionReport = { created: [], updated: [], unchanged: [] };
  for (const want of streamConfigs(s)) {
    const name = want.name;
    const have = await streamInfoOrNull(jsm, name);
    if (!have) {
      await jsm.streams.add(want);
      report.created.push(`stream ${name}`);
      continue;
    }
    for (const key of FIXED_STREAM_SETTINGS) {
      if (key in want && !same(have.config[key], want[key])) {
        incompatible('stream', name, key, have.config[key], want[key]);
      }
    }
    if (driftedKeys(have.config, want).length > 0) {
      await jsm.streams.update(name, { ...have.config, ...want });
      report.updated.push(`stream ${name}`);
    } else {
      report.unchanged.push(`stream ${name}`);
    }
  }
  for (const { stream, config: want } of consumerConfigs(s)) {
    const name = `${stream}/${want.durable_name}`;
    const have = await jsm.consumers.info(stream, want.durable_name!).catch((err: unknown) => {
      if (apiErrorCode(err) === 10014) return null;
      throw err;
    });
    if (!have) {
      await jsm.consumers.add(stream, want);
      report.created.push(`consumer ${name}`);
      continue;
    }
    for (const key of FIXED_CONSUMER_SETTINGS) {
      if (!same(have.config[key], want[key]))
        incompatible('consumer', name, key, have.config[key], want[key]);
    }
    if (driftedKeys(have.config, want).length > 0) {
      await jsm.consumers.update(stream, want.durable_name!, want);
      report.updated.push(`consumer ${name}`);
    } else {
      report.unchanged.push(`consumer ${name}`);
    }
  }
  return report;
}

async function streamInfoOrNull(jsm: JetStreamManager, name: string): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(name);
  } catch (err) {
    if (apiErrorCode(err) === 10059) return null;
    throw err;
  }
}

export function topologySettings(
  config: Pick<TopologySettings, 'replicas' | 'maxDeliver' | 'backoffMs' | 'idempotencyTtlMs'>,
): TopologySettings {
  return {
    replicas: config.replicas,
    maxDeliver: config.maxDeliver,
    backoffMs: config.backoffMs,
    idempotencyTtlMs: config.idempotencyTtlMs,
  };
}
