/**
 * The process's Prometheus metrics: one registry per process (in `nats-orders dev` every
 * component shares it), default process metrics, and the instruments of the order flow.
 * Names follow Prometheus conventions (`_total`, `_seconds`, base units); labels take values
 * from small fixed sets, never an order id. Values that live in NATS (consumer backlog, outbox
 * age, connection state) are read at scrape time from probes the components register.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Reads one value per label value at scrape time; a failed read leaves the series out. */
type Probe = () => Promise<number> | number;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ORDER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

export type Metrics = ReturnType<typeof createMetrics>;

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const probes = {
    consumerPending: new Map<string, Probe>(),
    consumerAckPending: new Map<string, Probe>(),
    natsConnected: new Map<string, Probe>(),
    outboxPending: undefined as Probe | undefined,
    outboxOldestAge: undefined as Probe | undefined,
  };

  async function readProbes(gauge: Gauge<string>, label: string, map: Map<string, Probe>) {
    gauge.reset();
    await Promise.all(
      [...map].map(async ([value, probe]) => {
        try {
          gauge.set({ [label]: value }, await probe());
        } catch {
          // NATS unreachable during the scrape: no sample rather than a wrong one.
        }
      }),
    );
  }

  async function readProbe(gauge: Gauge, probe: Probe | undefined) {
    gauge.reset();
    if (!probe) return;
    try {
      gauge.set(await probe());
    } catch {
      // as above
    }
  }

  const metrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests served by the gateway, by route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    idempotencyOutcomes: new Counter({
      name: 'nats_orders_idempotency_outcomes_total',
      help: 'Order submissions by idempotency outcome: new, replayed, in_flight, mismatch, missing_key, invalid_key',
      labelNames: ['outcome'],
      registers,
    }),
    orderTransitions: new Counter({
      name: 'nats_orders_order_transitions_total',
      help: 'Persisted order state changes, by from and to status (from="NEW" for a created order)',
      labelNames: ['from', 'to'],
      registers,
    }),
    orderDuration: new Histogram({
      name: 'nats_orders_order_duration_seconds',
      help: 'Time from acceptance to a terminal status, by that status',
      labelNames: ['status'],
      buckets: ORDER_BUCKETS,
      registers,
    }),
    paymentDuration: new Histogram({
      name: 'nats_orders_payment_duration_seconds',
      help: 'Payment service calls, by outcome: charged, transient, permanent',
      labelNames: ['outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    retriesScheduled: new Counter({
      name: 'nats_orders_retries_scheduled_total',
      help: 'Order events handed back for a later retry (nak with a delay), by error code',
      labelNames: ['code'],
      registers,
    }),
    workerMessages: new Counter({
      name: 'nats_orders_worker_messages_total',
      help: 'Order events settled by workers, by outcome: ack, nak, term',
      labelNames: ['outcome'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'nats_orders_dead_lettered_total',
      help: 'Order events copied to ORDERS_DLQ, by kind: max_deliveries, terminated',
      labelNames: ['kind'],
      registers,
    }),
    /** Registers a scrape-time reading of a durable consumer's backlog. */
    probeConsumer(consumer: string, pending: Probe, ackPending: Probe): void {
      probes.consumerPending.set(consumer, pending);
      probes.consumerAckPending.set(consumer, ackPending);
    },
    probeConnection(component: string, connected: () => boolean): void {
      probes.natsConnected.set(component, () => (connected() ? 1 : 0));
    },
    probeOutbox(pending: Probe, oldestAgeSeconds: Probe): void {
      probes.outboxPending = pending;
      probes.outboxOldestAge = oldestAgeSeconds;
    },
  };

  // Known label values start at 0, so that rate() and increase() see the first event: a
  // counter series born at 1 has no increase to show (the dead-letter alert would miss it).
  for (const kind of ['max_deliveries', 'terminated']) metrics.deadLettered.inc({ kind }, 0);
  for (const outcome of ['ack', 'nak', 'term']) metrics.workerMessages.inc({ outcome }, 0);
  for (const outcome of ['new', 'replayed', 'in_flight', 'mismatch', 'missing_key', 'invalid_key'])
    metrics.idempotencyOutcomes.inc({ outcome }, 0);
  for (const outcome of ['charged', 'transient', 'permanent'])
    metrics.paymentDuration.zero({ outcome });

  new Gauge({
    name: 'nats_orders_consumer_pending_messages',
    help: 'Messages not yet delivered by a durable consumer (num_pending)',
    labelNames: ['consumer'],
    registers,
    async collect() {
      await readProbes(this, 'consumer', probes.consumerPending);
    },
  });
  new Gauge({
    name: 'nats_orders_consumer_ack_pending_messages',
    help: 'Messages delivered but not yet acknowledged by a durable consumer (num_ack_pending)',
    labelNames: ['consumer'],
    registers,
    async collect() {
      await readProbes(this, 'consumer', probes.consumerAckPending);
    },
  });
  new Gauge({
    name: 'nats_orders_nats_connected',
    help: '1 while the component is connected to NATS, 0 while it is not',
    labelNames: ['component'],
    registers,
    async collect() {
      await readProbes(this, 'component', probes.natsConnected);
    },
  });
  new Gauge({
    name: 'nats_orders_outbox_pending_writes',
    help: 'Order writes the outbox relay has not finished (each may carry outbox events)',
    registers,
    async collect() {
      await readProbe(this, probes.outboxPending);
    },
  });
  new Gauge({
    name: 'nats_orders_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest order write the outbox relay has not finished (0 when none)',
    registers,
    async collect() {
      await readProbe(this, probes.outboxOldestAge);
    },
  });
  return metrics;
}
