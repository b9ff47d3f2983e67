/**
 * The order worker: consumes `orders.events.created.*` from the durable `order-worker`
 * consumer, rehydrates the order actor from KV and drives it through the payment.
 * Order of work for each message: persist the state (compare-and-set), then run the effect
 * (the payment call), then persist the result, and only then ack.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import {
  AppError,
  ORDERS_STREAM,
  TerminalError,
  errorMessage,
  createdEventOrderId,
  noCrashPoints,
  retryWhileUnavailable,
  traceIdOf,
  WORKER_CONSUMER,
  startConsumeLoop,
  type Config,
  type ConsumeLoop,
  type CrashPoint,
  type Metrics,
  type Logger,
  type OrderRecord,
} from '../shared/index.js';
import type { ActorStore } from './actor-store.js';
import type { OrderEvent } from './order.machine.js';
import { dispositionFor, settle } from './outcome.js';
import type { PaymentClient } from './payment-client.js';

export interface WorkerDeps {
  js: JetStreamClient;
  store: ActorStore;
  payments: PaymentClient;
  log: Logger;
  config: Pick<Config, 'workerConcurrency' | 'backoffMs'>;
  crashPoint?: CrashPoint;
  metrics?: Metrics;
}

const now = (): string => new Date().toISOString();

/** What a payment success means for the stored order, whatever state another writer left. */
function afterSuccess(paymentId: string) {
  return (record: OrderRecord): OrderEvent | undefined => {
    if (record.status === 'PROCESSING') return { type: 'PAYMENT_SUCCEEDED', at: now(), paymentId };
    // Another delivery recorded a transient failure meanwhile: the charge exists, so go on.
    if (record.status === 'FAILED_TRANSIENT') return { type: 'PAYMENT_STARTED', at: now() };
    return undefined;
  };
}

export function createWorker(deps: WorkerDeps) {
  const { payments, config } = deps;
  // A read or write that meets a stream leader change is tried again here, for a few seconds,
  // rather than handed back with a nak: each redelivery spends one of the order's MAX_DELIVER
  // attempts (37 naks in 1,041 orders over four step-downs on a 3-node cluster, before). A
  // repeat is safe: after a write that was stored but not answered, its compare-and-set loses
  // and the update re-reads and finds its own write.
  const store: Pick<ActorStore, 'update'> = {
    update: (...args) => retryWhileUnavailable(() => deps.store.update(...args)),
  };
  const crashPoint = deps.crashPoint ?? noCrashPoints;
  const log = deps.log.child({ component: 'worker' });
  // working() well before the shortest redelivery delay, so a long payment call keeps its message.
  const workingEveryMs = Math.max(100, Math.floor(Math.min(...config.backoffMs) / 3));
  let loop: ConsumeLoop | undefined;

  async function processOrder(
    orderId: string,
    attempt: number,
    eventId: string | undefined,
    msgLog: Logger,
  ): Promise<void> {
    const started = await store.update(
      orderId,
      (record) =>
        record.status === 'CREATED' || record.status === 'FAILED_TRANSIENT'
          ? { type: 'PAYMENT_STARTED', at: now() }
          : undefined,
      // The created event in hand is in ORDERS: the PROCESSING write need not carry it on.
      { published: eventId ? new Set([eventId]) : undefined },
    );
    if (started.kind === 'missing') {
      // The relay publishes a created event only after the order is stored, so a first miss
      // is a read that has not caught up (seen once in the bench, R3 with sync_interval: always
      // on two busy cores: 19 of 1,183 orders dead-lettered untried): try again after the
      // backoff. A second miss is an event with no order (forged, or its order purged).
      if (attempt === 1)
        throw new AppError('ORDER_NOT_YET_READABLE', `order ${orderId} not readable yet`);
      throw new TerminalError('ORDER_NOT_FOUND', `no order ${orderId} in the orders bucket`);
    }
    const { record } = started.order;
    if (record.status !== 'PROCESSING') {
      // Terminal already (a redelivery of a finished order, or a cancelled one): no payment call.
      msgLog.info(
        { status: record.status },
        'order already settled; acknowledging without a payment call',
      );
      return;
    }
    crashPoint('worker.after-processing');
    let paymentId: string;
    const endPaymentTimer = deps.metrics?.paymentDuration.startTimer();
    try {
      ({ paymentId } = await payments.charge({
        orderId,
        amount: record.context.amount,
        currency: record.context.currency,
        correlationId: record.context.correlationId,
      }));
      endPaymentTimer?.({ outcome: 'charged' });
    } catch (err) {
      endPaymentTimer?.({ outcome: err instanceof TerminalError ? 'permanent' : 'transient' });
      const error = {
        code: err instanceof AppError ? err.code : 'INTERNAL',
        message: errorMessage(err),
      };
      const type =
        err instanceof TerminalError ? 'PAYMENT_FAILED_PERMANENT' : 'PAYMENT_FAILED_TRANSIENT';
      await store.update(
        orderId,
        (r) => (r.status === 'PROCESSING' ? { type, at: now(), error } : undefined),
        { lastKnown: started.order },
      );
      throw err;
    }
    crashPoint('worker.after-payment');
    // Usually nobody wrote since PROCESSING: write on top of it without reading it again.
    let result = await store.update(orderId, afterSuccess(paymentId), { lastKnown: started.order });
    while (result.kind === 'applied' && result.order.record.status !== 'COMPLETED') {
      result = await store.update(orderId, afterSuccess(paymentId), { lastKnown: result.order });
    }
    const finalStatus = result.kind === 'missing' ? undefined : result.order.record.status;
    if (finalStatus === 'COMPLETED') {
      crashPoint('worker.after-completed');
      msgLog.info({ paymentId, amount: record.context.amount }, 'order completed');
    } else {
      // Charged, yet another writer settled the order otherwise: an operator should look.
      msgLog.error(
        { paymentId, status: finalStatus },
        'payment succeeded but the order is not COMPLETED',
      );
    }
  }

  async function handle(msg: JsMsg): Promise<void> {
    const orderId = createdEventOrderId(msg.subject);
    const attempt = msg.info.deliveryCount;
    // The correlation id and trace travel on the event's headers (set by the relay).
    const msgLog = log.child({
      orderId,
      seq: msg.seq,
      attempt,
      correlationId: msg.headers?.get('Correlation-Id') || undefined,
      traceId: traceIdOf(msg.headers?.get('traceparent') || undefined),
    });
    const heartbeat = setInterval(() => msg.working(), workingEveryMs);
    try {
      if (!orderId)
        throw new TerminalError('EVENT_MALFORMED', `unexpected event subject ${msg.subject}`);
      await processOrder(orderId, attempt, msg.headers?.get('Nats-Msg-Id') || undefined, msgLog);
      settle(msg, { kind: 'ack' }, msgLog, undefined, deps.metrics);
    } catch (err) {
      settle(msg, dispositionFor(err, attempt, config.backoffMs), msgLog, err, deps.metrics);
    } finally {
      clearInterval(heartbeat);
    }
  }

  return {
    async start(): Promise<void> {
      const consumer = await deps.js.consumers.get(ORDERS_STREAM, WORKER_CONSUMER);
      loop = await startConsumeLoop({
        consumer,
        concurrency: config.workerConcurrency,
        handle,
        log,
      });
      log.info({ concurrency: config.workerConcurrency }, 'worker consuming');
    },
    async stop(): Promise<void> {
      await loop?.stop();
      loop = undefined;
    },
    /** Messages handled since start. */
    handled: (): number => loop?.handled() ?? 0,
  };
}
