/**
 * The system's promises, checked from the outside after a run: reads every stored revision of
 * every order (the `orders` bucket's stream, as far as its history keeps), the events in
 * ORDERS, ORDERS_DLQ and the payment service's ledger, and lists each broken promise by order
 * id. Used by the fault tests and by `nats-orders check` for fault campaigns. A full read: an
 * audit, never a hot path.
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import {
  STATUS_RANK,
  TERMINAL_STATUSES,
  decodeOrderRecord,
  lifecyclePosition,
  outboxEventOrderId,
  type OrderRecord,
} from './order-record.js';
import { readStream } from './stream-reader.js';
import {
  ORDERS_BUCKET,
  ORDERS_DLQ_STREAM,
  ORDERS_KV_STREAM,
  ORDERS_STREAM,
  dlqSubject,
} from './topology.js';

export interface OrderRevision {
  revision: number;
  record: OrderRecord;
}

/** Charges per order id (the payment idempotency key), as the payment service reports them. */
export type ChargesByOrder = ReadonlyMap<string, number>;

/** Reads a ledger in the payment stub's format (`GET <stub>/_stub/ledger`). */
export async function readLedgerCharges(ledgerUrl: string): Promise<ChargesByOrder> {
  const res = await fetch(ledgerUrl);
  if (!res.ok) throw new Error(`ledger ${ledgerUrl} answered ${res.status}`);
  const ledger = (await res.json()) as { keys: Record<string, { charges: number }> };
  return new Map(Object.entries(ledger.keys).map(([key, entry]) => [key, entry.charges]));
}

export interface InvariantReport {
  orders: number;
  /** Broken promises, by order id. Every list empty = the run kept every promise. */
  violations: {
    /** An order the client was told is accepted (202) that is not stored. */
    lost: string[];
    /** Not COMPLETED, FAILED_PERMANENT or CANCELLED. */
    notTerminal: string[];
    chargedMoreThanOnce: string[];
    completedWithoutCharge: string[];
    completedAndDeadLettered: string[];
    /** FAILED_PERMANENT in the current generation, yet no dead letter (and not purged). */
    failedWithoutDeadLetter: string[];
    /** A stored revision moved backwards (see historyMovesBackwards). */
    historyBackwards: string[];
    /** An event a stored write emitted or carried that is not in ORDERS (never published). */
    unpublishedEvents: string[];
    /** An event (one Nats-Msg-Id) that is in ORDERS more than once. */
    eventsPublishedTwice: string[];
  };
  /** Not broken promises, but for an operator: charged while not COMPLETED (unknown outcome). */
  attention: { chargedNotCompleted: string[] };
}

/** A report's violations when every promise was kept. */
export function noViolations(): InvariantReport['violations'] {
  return {
    lost: [],
    notTerminal: [],
    chargedMoreThanOnce: [],
    completedWithoutCharge: [],
    completedAndDeadLettered: [],
    failedWithoutDeadLetter: [],
    historyBackwards: [],
    unpublishedEvents: [],
    eventsPublishedTwice: [],
  };
}

export async function readOrderHistories(
  js: JetStreamClient,
): Promise<Map<string, OrderRevision[]>> {
  const histories = new Map<string, OrderRevision[]>();
  const prefix = `$KV.${ORDERS_BUCKET}.`;
  for await (const msg of readStream(js, ORDERS_KV_STREAM)) {
    const record = decodeOrderRecord(msg.data);
    if (!record) continue;
    const orderId = msg.subject.slice(prefix.length);
    const list = histories.get(orderId) ?? [];
    list.push({ revision: msg.seq, record });
    histories.set(orderId, list);
  }
  return histories;
}

/**
 * True when a revision moves backwards from the one before: in lifecycle position (rank within
 * a generation; only a redrive starts a new one), out of a terminal state other than by a
 * redrive, in history length or in attempts.
 */
export function historyMovesBackwards(revisions: readonly OrderRevision[]): boolean {
  for (let i = 1; i < revisions.length; i++) {
    const prev = revisions[i - 1]!.record;
    const next = revisions[i]!.record;
    const redriven =
      prev.status === 'FAILED_PERMANENT' &&
      next.status === 'CREATED' &&
      (next.context.generation ?? 0) === (prev.context.generation ?? 0) + 1;
    if (
      lifecyclePosition(next) < lifecyclePosition(prev) ||
      (STATUS_RANK[prev.status] === 2 && next.status !== prev.status && !redriven) ||
      next.context.history.length < prev.context.history.length ||
      next.context.attempts < prev.context.attempts
    ) {
      return true;
    }
  }
  return false;
}

/** Order ids with a dead letter in ORDERS_DLQ. */
async function deadLetteredOrders(js: JetStreamClient): Promise<Set<string>> {
  const ids = new Set<string>();
  const prefix = dlqSubject('');
  for await (const msg of readStream(js, ORDERS_DLQ_STREAM))
    ids.add(msg.subject.slice(prefix.length));
  return ids;
}

/**
 * The events in ORDERS: how often each event id is there, and before when an event may have
 * aged out of the stream (its max age) and so cannot be checked.
 */
async function publishedEvents(
  js: JetStreamClient,
): Promise<{ copies: Map<string, number>; agedOutBefore: number }> {
  const copies = new Map<string, number>();
  for await (const msg of readStream(js, ORDERS_STREAM)) {
    const id = msg.headers?.get('Nats-Msg-Id');
    if (id) copies.set(id, (copies.get(id) ?? 0) + 1);
  }
  const { config } = await (await js.jetstreamManager()).streams.info(ORDERS_STREAM);
  const maxAgeMs = Number(config.max_age) / 1e6;
  return { copies, agedOutBefore: maxAgeMs > 0 ? Date.now() - maxAgeMs : -Infinity };
}

/** Whether a stored write's outbox holds an event that is not in ORDERS (nor aged out of it). */
function hasUnpublishedEvent(
  revisions: readonly OrderRevision[],
  events: { copies: ReadonlyMap<string, number>; agedOutBefore: number },
): boolean {
  return revisions.some(({ record }) =>
    record.outbox.some(
      (e) => !events.copies.has(e.id) && Date.parse(e.data.at) >= events.agedOutBefore,
    ),
  );
}

export async function checkInvariants(opts: {
  js: JetStreamClient;
  charges: ChargesByOrder;
  /** Order ids the clients got a 202 for (all stored orders are checked in any case). */
  accepted?: Iterable<string>;
  /** Order ids whose dead letters an operator purged on purpose. */
  purged?: ReadonlySet<string>;
}): Promise<InvariantReport> {
  const histories = await readOrderHistories(opts.js);
  const deadLettered = await deadLetteredOrders(opts.js);
  const events = await publishedEvents(opts.js);
  const publishedTwice = new Set(
    [...events.copies].filter(([, n]) => n > 1).map(([id]) => outboxEventOrderId(id)),
  );
  const report: InvariantReport = {
    orders: histories.size,
    violations: noViolations(),
    attention: { chargedNotCompleted: [] },
  };
  const v = report.violations;
  for (const id of opts.accepted ?? []) if (!histories.has(id)) v.lost.push(id);
  for (const [orderId, revisions] of histories) {
    const latest = revisions.at(-1)!.record;
    const charges = opts.charges.get(orderId) ?? 0;
    if (!TERMINAL_STATUSES.has(latest.status)) v.notTerminal.push(orderId);
    if (charges > 1) v.chargedMoreThanOnce.push(orderId);
    if (latest.status === 'COMPLETED' && charges === 0) v.completedWithoutCharge.push(orderId);
    if (latest.status === 'COMPLETED' && deadLettered.has(orderId))
      v.completedAndDeadLettered.push(orderId);
    if (
      latest.status === 'FAILED_PERMANENT' &&
      !deadLettered.has(orderId) &&
      !opts.purged?.has(orderId)
    )
      v.failedWithoutDeadLetter.push(orderId);
    if (historyMovesBackwards(revisions)) v.historyBackwards.push(orderId);
    if (hasUnpublishedEvent(revisions, events)) v.unpublishedEvents.push(orderId);
    if (publishedTwice.has(orderId)) v.eventsPublishedTwice.push(orderId);
    if (latest.status !== 'COMPLETED' && charges > 0)
      report.attention.chargedNotCompleted.push(orderId);
  }
  return report;
}

/** The number of broken promises in a report. */
export function violationCount(report: InvariantReport): number {
  return Object.values(report.violations).reduce((sum, ids) => sum + ids.length, 0);
}
