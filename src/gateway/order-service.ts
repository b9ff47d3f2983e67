/**
 * What the orders API does, independent of transport: the HTTP routes and the NATS
 * request-reply API both call this, so both have exactly the same semantics.
 */
import { nuid } from '@nats-io/transport-node';
import type { ActorStore, StoredOrder } from '../actors/index.js';
import {
  isOrderId,
  newTraceparent,
  parseTraceparent,
  retryWhileUnavailable,
  traceIdOf,
  type ConnectionMonitor,
  type CrashPoint,
  type Logger,
  type Metrics,
  type OrderRecord,
} from '../shared/index.js';
import type { IdempotencyStore, StoredResponse } from './idempotency.js';
import { parseIdempotencyKey, requestFingerprint } from './idempotency.js';
import { ProblemError } from './problem.js';
import {
  orderAmount,
  type AcceptedOrder,
  type CreateOrderBody,
  type OrderView,
} from './schemas.js';

export interface CreateOrderCommand {
  tenant: string;
  idempotencyKey: string;
  body: CreateOrderBody;
  correlationId: string;
  /** The request's W3C traceparent header, if any: a new trace starts otherwise. */
  traceparent?: string | undefined;
}

export interface CreateOrderResult {
  statusCode: number;
  body: AcceptedOrder;
  replayed: boolean;
}

export function orderView(record: OrderRecord): OrderView {
  const c = record.context;
  return {
    orderId: c.orderId,
    status: record.status,
    amount: c.amount,
    currency: c.currency,
    attempts: c.attempts,
    ...(c.lastError ? { lastError: c.lastError } : {}),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    history: c.history,
  };
}

/** The 202 body: all of it comes from the order, so a replay reads the order to answer it. */
function acceptedOrder(record: OrderRecord): AcceptedOrder {
  const { orderId, amount, currency } = record.context;
  return { orderId, status: 'CREATED', amount, currency };
}

/** What a replayed key answers once its order exists (see idempotency.ts). */
export function acceptedResponseFrom(store: Pick<ActorStore, 'load'>) {
  return async (orderId: string): Promise<StoredResponse | undefined> => {
    const order = await store.load(orderId);
    return order && { statusCode: 202, body: acceptedOrder(order.record) };
  };
}

export type OrderService = ReturnType<typeof createOrderService>;

/**
 * How long a request waits for a lost NATS connection to come back before answering 503: a
 * failover to another server of the cluster takes one reconnect wait (250 ms) and a handshake.
 * Without it, a request sent while NATS is down waited out its steps' timeouts (8 s).
 */
export const RECONNECT_GRACE_MS = 1_000;

export function createOrderService(deps: {
  store: ActorStore;
  idempotency: IdempotencyStore;
  log: Logger;
  crashPoint: CrashPoint;
  metrics?: Metrics;
  /** The connection's state: a request waits for it to come back for a moment only. */
  connection?: Pick<ConnectionMonitor, 'whenConnected'>;
}) {
  const { store, idempotency, log, crashPoint, metrics } = deps;

  async function natsReachable(): Promise<void> {
    if (deps.connection && !(await deps.connection.whenConnected(RECONNECT_GRACE_MS))) {
      throw new ProblemError(503, 'SERVICE_UNAVAILABLE', 'NATS is not connected; retry shortly');
    }
  }

  /** The request's Idempotency-Key, counting the requests refused for a missing or bad one. */
  function idempotencyKey(header: string | string[] | undefined): string {
    try {
      return parseIdempotencyKey(header);
    } catch (err) {
      const missing = err instanceof ProblemError && err.code === 'IDEMPOTENCY_KEY_MISSING';
      metrics?.idempotencyOutcomes.inc({ outcome: missing ? 'missing_key' : 'invalid_key' });
      throw err;
    }
  }

  async function create(cmd: CreateOrderCommand): Promise<CreateOrderResult> {
    const amount = orderAmount(cmd.body);
    const fingerprint = requestFingerprint('POST /orders', cmd.body);
    const newOrderId = nuid.next();
    await natsReachable();
    // Each step is safe to repeat: a repeated claim finds its own entry, a create its own order.
    const claim = await retryWhileUnavailable(() =>
      idempotency.claim(cmd.tenant, cmd.idempotencyKey, fingerprint, newOrderId),
    );
    metrics?.idempotencyOutcomes.inc({
      outcome: { replay: 'replayed', in_flight: 'in_flight', mismatch: 'mismatch', claimed: 'new' }[
        claim.kind
      ],
    });
    switch (claim.kind) {
      case 'replay':
        return {
          statusCode: claim.response.statusCode,
          body: claim.response.body as AcceptedOrder,
          replayed: true,
        };
      case 'in_flight':
        throw new ProblemError(409, 'IDEMPOTENCY_KEY_IN_USE');
      case 'mismatch':
        throw new ProblemError(422, 'IDEMPOTENCY_KEY_REUSED');
      case 'claimed':
        break;
    }
    crashPoint('gateway.after-claim');
    // Create-if-absent: a takeover after a crashed gateway finds the order it may have made.
    const input = {
      orderId: claim.orderId,
      tenant: cmd.tenant,
      customerId: cmd.body.customerId,
      currency: cmd.body.currency,
      items: cmd.body.items,
      amount,
      correlationId: cmd.correlationId,
      traceparent: parseTraceparent(cmd.traceparent) ?? newTraceparent(),
      at: new Date().toISOString(),
    };
    const { order, created } = await retryWhileUnavailable(() => store.create(input));
    crashPoint('gateway.after-create');
    const body = acceptedOrder(order.record);
    log.info(
      {
        orderId: body.orderId,
        correlationId: order.record.context.correlationId,
        traceId: traceIdOf(order.record.context.traceparent),
        created,
        takeover: claim.takeover,
      },
      'order accepted',
    );
    return { statusCode: 202, body, replayed: false };
  }

  /** The tenant's order; another tenant's order is indistinguishable from a missing one. */
  async function loadOwn(tenant: string, orderId: string) {
    let order: StoredOrder | undefined;
    if (isOrderId(orderId)) {
      await natsReachable();
      order = await retryWhileUnavailable(() => store.load(orderId));
    }
    if (!order || order.record.context.tenant !== tenant)
      throw new ProblemError(404, 'ORDER_NOT_FOUND');
    return order;
  }

  async function get(tenant: string, orderId: string): Promise<OrderView> {
    return orderView((await loadOwn(tenant, orderId)).record);
  }

  /**
   * Cancels an order no payment was attempted for (CREATED). Cancelling a cancelled order
   * answers the same 200, so a client may retry after a timeout; any other status is a 409:
   * an attempt with an unknown outcome may have charged.
   */
  async function cancel(tenant: string, orderId: string): Promise<OrderView> {
    await loadOwn(tenant, orderId);
    const result = await retryWhileUnavailable(() =>
      store.update(orderId, (record) =>
        record.status === 'CREATED' ? { type: 'CANCEL', at: new Date().toISOString() } : undefined,
      ),
    );
    if (result.kind === 'missing') throw new ProblemError(404, 'ORDER_NOT_FOUND');
    const { record } = result.order;
    if (record.status !== 'CANCELLED') {
      throw new ProblemError(
        409,
        'ORDER_NOT_CANCELLABLE',
        `the order is ${record.status}: only a CREATED order (no payment attempted) can be cancelled`,
      );
    }
    if (result.kind === 'applied') log.info({ orderId }, 'order cancelled');
    return orderView(record);
  }

  return { idempotencyKey, create, get, cancel };
}
