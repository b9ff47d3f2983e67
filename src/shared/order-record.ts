/**
 * The value stored per order in the `orders` KV bucket: the actor's persisted snapshot and the
 * outbox events its last transitions produced, written together in one compare-and-set.
 * The relay (src/relay) reads the outbox through this module; the actor side
 * (src/actors) owns the transitions.
 */
export const ORDER_STATUSES = [
  'CREATED',
  'PROCESSING',
  'FAILED_TRANSIENT',
  'COMPLETED',
  'FAILED_PERMANENT',
  'CANCELLED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/**
 * What an order id may look like: one NATS subject token (ids are subject suffixes in ORDERS
 * and ORDERS_DLQ) that is also a KV key and a URL path segment. Generated ids are nuids.
 */
export const isOrderId = (value: string): boolean => /^[A-Za-z0-9_-]{1,128}$/.test(value);

export const TERMINAL_STATUSES: ReadonlySet<OrderStatus> = new Set([
  'COMPLETED',
  'FAILED_PERMANENT',
  'CANCELLED',
]);

/** Rank in the lifecycle within one generation, for "history only moves forward" checks. */
export const STATUS_RANK: Readonly<Record<OrderStatus, number>> = {
  CREATED: 0,
  PROCESSING: 1,
  FAILED_TRANSIENT: 1,
  COMPLETED: 2,
  FAILED_PERMANENT: 2,
  CANCELLED: 2,
};

export interface OrderItem {
  sku: string;
  quantity: number;
  unitPrice: number;
}

export interface OrderError {
  code: string;
  message: string;
}

export interface OrderContext {
  orderId: string;
  tenant: string;
  customerId: string;
  currency: string;
  items: OrderItem[];
  amount: number;
  /** Payment attempts started, over all generations. */
  attempts: number;
  /**
   * How many times an operator redrove the order out of FAILED_PERMANENT (0 when never;
   * absent in records written before redrive existed). Each redrive starts a new generation:
   * the lifecycle starts again at CREATED, with a fresh delivery budget.
   */
  generation?: number;
  lastError?: OrderError;
  paymentId?: string;
  correlationId: string;
  /** W3C traceparent of the request that created the order (absent in older records). */
  traceparent?: string;
  createdAt: string;
  updatedAt: string;
  history: Array<{ status: OrderStatus; at: string }>;
}

export type OrderEventType = 'created' | 'completed' | 'dead_lettered' | 'cancelled';

/** An event waiting to be published to ORDERS; `id` becomes the `Nats-Msg-Id`. */
export interface OutboxEvent {
  id: string;
  subject: string;
  type: OrderEventType;
  /** Sent as the event's `traceparent` header. */
  traceparent?: string;
  data: {
    orderId: string;
    tenant: string;
    status: OrderStatus;
    at: string;
    correlationId: string;
    /** The order's generation when the event was emitted (see OrderContext.generation). */
    generation: number;
  };
}

export interface OrderRecord {
  v: 1;
  status: OrderStatus;
  context: OrderContext;
  outbox: OutboxEvent[];
}

export const generationOf = (record: OrderRecord): number => record.context.generation ?? 0;

/**
 * Position in the order's life, comparable across revisions: a state never goes backwards
 * within a generation, and only a redrive (an operator's explicit act) starts a new one.
 */
export function lifecyclePosition(record: OrderRecord): number {
  return generationOf(record) * 10 + STATUS_RANK[record.status];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeOrderRecord(record: OrderRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** Decodes a stored record; undefined for anything that is not one (a delete marker, garbage). */
export function decodeOrderRecord(bytes: Uint8Array): OrderRecord | undefined {
  if (bytes.length === 0) return undefined;
  try {
    const value = JSON.parse(decoder.decode(bytes)) as Partial<OrderRecord>;
    if (
      value.v !== 1 ||
      typeof value.status !== 'string' ||
      !value.context ||
      !Array.isArray(value.outbox)
    ) {
      return undefined;
    }
    return value as OrderRecord;
  } catch {
    return undefined;
  }
}

/** An outbox event's id, derived, not random: the same transition always yields the same id. */
export function outboxEventId(
  orderId: string,
  historyLength: number,
  index: number,
  type: OrderEventType,
): string {
  return `${orderId}:${historyLength}:${index}:${type}`;
}

/** The order an outbox event id belongs to (see outboxEventId). */
export const outboxEventOrderId = (eventId: string): string => eventId.split(':')[0]!;

/**
 * True for an event the record's own write emitted; false for one carried from an earlier write
 * (every transition that emits also adds to the history, so their history lengths differ).
 */
export function emittedByThisWrite(record: OrderRecord, event: OutboxEvent): boolean {
  return event.id.startsWith(`${record.context.orderId}:${record.context.history.length}:`);
}

/** The record with the given (published) events removed from its outbox. */
export function withoutOutboxEvents(
  record: OrderRecord,
  publishedIds: ReadonlySet<string>,
): OrderRecord {
  return { ...record, outbox: record.outbox.filter((event) => !publishedIds.has(event.id)) };
}
