/**
 * The operator's side of ORDERS_DLQ: list dead letters, show one, redrive one or all that match
 * a filter, and purge handled ones. Used by `nats-orders dlq …` and by the gateway's admin
 * routes, so both behave the same.
 *
 * A redrive moves the order actor from FAILED_PERMANENT back to CREATED in a new generation
 * (compare-and-set); the transition emits a new `created` event with a new id, so the relay
 * publishes a new ORDERS message and the worker starts over with a fresh delivery budget. The
 * payment call is idempotent on the order id, so an order that was in fact charged during an
 * attempt with an unknown outcome completes without a second charge. The dead letter is removed
 * once the order is redriven; redriving it again is harmless.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import {
  ORDERS_DLQ_STREAM,
  dlqSubject,
  generationOf,
  isNoMessageFound,
  isOrderId,
  readStream,
  type Logger,
  type OrderError,
  type OrderRecord,
  type OrderStatus,
} from '../shared/index.js';

export interface DeadLetter {
  /** Sequence in ORDERS_DLQ: identifies the entry. */
  seq: number;
  /** Undefined for an event that named no order (a poison message). */
  orderId?: string;
  tenant?: string;
  /** The order's generation when it was dead-lettered. */
  generation: number;
  kind: string;
  reason: string;
  attempts?: number;
  lastError?: OrderError;
  originalSubject?: string;
  originalSeq?: number;
  deadLetteredAt?: string;
}

export interface DeadLetterFilter {
  orderId?: string;
  tenant?: string;
  /** `max_deliveries` or `terminated`. */
  kind?: string;
  /** The order's last error code, e.g. `PAYMENT_HTTP_500`. */
  errorCode?: string;
}

export type RedriveOutcome =
  /** The order is back in CREATED; the entry is removed. */
  | 'redriven'
  /** The order had been redriven already (an earlier run stopped half-way); entry removed. */
  | 'already_redriven'
  /** The entry names no order that can run again; it stays until purged. */
  | 'not_redrivable';

export interface RedriveResult {
  seq: number;
  orderId?: string;
  outcome: RedriveOutcome;
  status?: OrderStatus;
  detail?: string;
}

/**
 * A page of a read over ORDERS_DLQ: at most `limit` entries, with sequences after `afterSeq`
 * and up to `upToSeq`.
 */
export interface Page {
  limit?: number;
  afterSeq?: number;
  upToSeq?: number;
}

/** More entries matched than the page held: `resume` is the next page's range. */
type Paged = { truncated: false } | { truncated: true; resume: Omit<Page, 'limit'> };

export type ListPage = { entries: DeadLetter[] } & Paged;
export type RedrivePage = { results: RedriveResult[] } & Paged;

/**
 * `handle` applied to the entries in turn, up to `limit` of them; truncated (with the range
 * after the last one handled) when another entry follows, which is then left alone.
 */
async function takePage<T extends { seq: number }>(
  source: AsyncIterable<DeadLetter>,
  page: Page & { limit: number },
  handle: (entry: DeadLetter) => T | Promise<T>,
): Promise<{ items: T[] } & Paged> {
  const items: T[] = [];
  for await (const entry of source) {
    if (items.length === page.limit) {
      const end = page.upToSeq !== undefined ? { upToSeq: page.upToSeq } : {};
      return { items, truncated: true, resume: { afterSeq: items.at(-1)!.seq, ...end } };
    }
    items.push(await handle(entry));
  }
  return { items, truncated: false };
}

export interface DeadLetterDeskDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  /**
   * Applies the actor's REDRIVE transition by compare-and-set if the order is FAILED_PERMANENT
   * in `generation`; returns the stored record and whether this call changed it.
   */
  redriveOrder: (
    orderId: string,
    generation: number,
  ) => Promise<{ record: OrderRecord; applied: boolean } | undefined>;
}

const decoder = new TextDecoder();

function parseDeadLetter(seq: number, subject: string, data: Uint8Array): DeadLetter {
  const token = subject.slice(dlqSubject('').length);
  const fallback: DeadLetter = {
    seq,
    ...(token !== 'unknown' ? { orderId: token } : {}),
    generation: 0,
    kind: 'unreadable',
    reason: 'the dead letter is not valid JSON',
  };
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(decoder.decode(data)) as Record<string, unknown>;
  } catch {
    return fallback;
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
  const lastError = body.lastError as OrderError | null | undefined;
  return {
    ...fallback,
    generation: num(body.generation) ?? 0,
    kind: str(body.kind) ?? 'unknown',
    reason: str(body.reason) ?? '',
    ...(str(body.tenant) ? { tenant: str(body.tenant) } : {}),
    ...(num(body.attempts) !== undefined ? { attempts: num(body.attempts) } : {}),
    ...(lastError && typeof lastError.code === 'string' ? { lastError } : {}),
    ...(str(body.originalSubject) ? { originalSubject: str(body.originalSubject) } : {}),
    ...(num(body.originalSeq) !== undefined ? { originalSeq: num(body.originalSeq) } : {}),
    ...(str(body.deadLetteredAt) ? { deadLetteredAt: str(body.deadLetteredAt) } : {}),
  };
}

function matches(entry: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.orderId === undefined || entry.orderId === filter.orderId) &&
    (filter.tenant === undefined || entry.tenant === filter.tenant) &&
    (filter.kind === undefined || entry.kind === filter.kind) &&
    (filter.errorCode === undefined || entry.lastError?.code === filter.errorCode)
  );
}

export type DeadLetterDesk = ReturnType<typeof createDeadLetterDesk>;

export function createDeadLetterDesk(deps: DeadLetterDeskDeps) {
  const { js, jsm } = deps;
  const log = deps.log.child({ component: 'dead-letter-desk' });

  /**
   * Every entry matching the filter, oldest first (reads ORDERS_DLQ once, in order); with
   * `range`, only those after `afterSeq` and up to `upToSeq`.
   */
  async function* entries(
    filter: DeadLetterFilter = {},
    range: Omit<Page, 'limit'> = {},
  ): AsyncGenerator<DeadLetter> {
    if (filter.orderId !== undefined && !isOrderId(filter.orderId)) return;
    const filterSubject = filter.orderId ? dlqSubject(filter.orderId) : undefined;
    const { afterSeq, upToSeq = Infinity } = range;
    for await (const msg of readStream(js, ORDERS_DLQ_STREAM, { filterSubject, afterSeq })) {
      if (msg.seq > upToSeq) return;
      const entry = parseDeadLetter(msg.seq, msg.subject, msg.data);
      if (matches(entry, filter)) yield entry;
    }
  }

  /**
   * Up to `page.limit` entries matching the filter in the page's range, and whether more
   * matched: then `resume` is the range of the next page.
   */
  async function list(filter: DeadLetterFilter = {}, page: Page = {}): Promise<ListPage> {
    const range = { ...page, limit: page.limit ?? 100 };
    const { items, ...paged } = await takePage(entries(filter, range), range, (entry) => entry);
    return { entries: items, ...paged };
  }

  /** The latest dead letter of an order, or undefined. */
  async function show(orderId: string): Promise<DeadLetter | undefined> {
    if (!isOrderId(orderId)) return undefined;
    // null when the order has none (the client maps "no message found" to null).
    const msg = await jsm.streams.getMessage(ORDERS_DLQ_STREAM, {
      last_by_subj: dlqSubject(orderId),
    });
    return msg ? parseDeadLetter(msg.seq, msg.subject, msg.data) : undefined;
  }

  async function remove(entry: DeadLetter): Promise<void> {
    // No secure erase: a dead letter holds nothing that must be overwritten on disk.
    await jsm.streams.deleteMessage(ORDERS_DLQ_STREAM, entry.seq, false).catch((err: unknown) => {
      if (!isNoMessageFound(err)) throw err;
    });
  }

  async function redriveEntry(entry: DeadLetter): Promise<RedriveResult> {
    const base = { seq: entry.seq, ...(entry.orderId ? { orderId: entry.orderId } : {}) };
    if (!entry.orderId)
      return { ...base, outcome: 'not_redrivable', detail: 'the event named no order' };
    const result = await deps.redriveOrder(entry.orderId, entry.generation);
    if (!result)
      return { ...base, outcome: 'not_redrivable', detail: 'no such order in the orders bucket' };
    const { record, applied } = result;
    if (!applied && generationOf(record) <= entry.generation) {
      return {
        ...base,
        outcome: 'not_redrivable',
        status: record.status,
        detail: `the order is ${record.status}, not FAILED_PERMANENT`,
      };
    }
    await remove(entry);
    const outcome = applied ? 'redriven' : 'already_redriven';
    log.info({ orderId: entry.orderId, generation: generationOf(record), outcome }, 'redrive');
    return { ...base, outcome, status: record.status };
  }

  /** Redrives the order's latest dead letter; undefined when the order has none. */
  async function redrive(orderId: string): Promise<RedriveResult | undefined> {
    const entry = await show(orderId);
    return entry && redriveEntry(entry);
  }

  /**
   * Redrives every entry matching the filter, one after the other, as the stream is read: memory
   * stays flat however many there are. Deleting entries already read does not disturb the read,
   * and entries added meanwhile (an order redriven here that dies again) are not read (readStream).
   */
  async function* redriveEach(filter: DeadLetterFilter = {}): AsyncGenerator<RedriveResult> {
    for await (const entry of entries(filter)) yield await redriveEntry(entry);
  }

  /**
   * Redrives up to `page.limit` entries matching the filter in the page's range, for an answer
   * that lists every result: a caller goes on with `resume` while `truncated`. The first page
   * fixes the range's end at the stream's last entry, so the pages never reach the entries
   * added meanwhile (orders redriven here that die again), and paging by sequence rather than
   * "until none match" lets entries that stay (not redrivable) end the walk too.
   */
  async function redrivePage(filter: DeadLetterFilter = {}, page: Page = {}): Promise<RedrivePage> {
    const range = {
      ...page,
      limit: page.limit ?? 1_000,
      upToSeq: page.upToSeq ?? (await jsm.streams.info(ORDERS_DLQ_STREAM)).state.last_seq,
    };
    const { items, ...paged } = await takePage(entries(filter, range), range, redriveEntry);
    return { results: items, ...paged };
  }

  /** Removes the order's dead letters (the order stays FAILED_PERMANENT); returns how many. */
  async function purge(orderId: string): Promise<number> {
    if (!isOrderId(orderId)) return 0;
    const response = await jsm.streams.purge(ORDERS_DLQ_STREAM, { filter: dlqSubject(orderId) });
    return response.purged;
  }

  /** Removes every entry matching the filter, as the stream is read; returns how many. */
  async function purgeAll(filter: DeadLetterFilter = {}): Promise<number> {
    let purged = 0;
    for await (const entry of entries(filter)) {
      await remove(entry);
      purged++;
    }
    return purged;
  }

  return { entries, list, show, redrive, redriveEach, redrivePage, purge, purgeAll };
}
