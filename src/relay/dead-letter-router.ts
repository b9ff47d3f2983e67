/**
 * The dead-letter router: consumes the server's MAX_DELIVERIES and MSG_TERMINATED advisories
 * for `order-worker`, captured durably by ORDERS_ADVISORIES (they are fire-and-forget
 * otherwise). An advisory carries only the stream sequence, so the router fetches the original
 * event from ORDERS, copies it with its headers, the reason, the attempts and the order's last
 * error to ORDERS_DLQ (`orders.dlq.<orderId>`, once per event), moves the order actor to
 * FAILED_PERMANENT, and logs at fatal level. It catches up after downtime from its durable
 * consumer.
 */
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import {
  ADVISORIES_STREAM,
  DEAD_LETTER_CONSUMER,
  ORDERS_DLQ_STREAM,
  ORDERS_STREAM,
  dlqSubject,
  generationOf,
  createdEventOrderId,
  noCrashPoints,
  startConsumeLoop,
  traceIdOf,
  type ConsumeLoop,
  type CrashPoint,
  type Metrics,
  type Logger,
  type OrderRecord,
} from '../shared/index.js';
import { publishWithRetry } from './publish.js';

export interface DeadLetterRouterDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  log: Logger;
  crashPoint?: CrashPoint;
  metrics?: Metrics;
  /**
   * Moves the order to FAILED_PERMANENT (the actor's DEAD_LETTERED transition, by
   * compare-and-set) unless it is terminal already or has been redriven past `generation`;
   * returns the stored record, or undefined when there is no such order.
   */
  deadLetterOrder: (
    orderId: string,
    error: { code: string; message: string },
    generation: number,
  ) => Promise<OrderRecord | undefined>;
}

interface Advisory {
  type?: string;
  stream_seq?: number;
  deliveries?: number;
  reason?: string;
}

export const SOURCE_SEQ_HEADER = 'Nats-Orders-Source-Seq';
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The DLQ subject token for an event subject; `unknown` when it names no valid order id. */
export const dlqOrderToken = (subject: string): string => createdEventOrderId(subject) ?? 'unknown';

/**
 * What an ORDERS event says about its order: the tenant, and the generation it was emitted in
 * (0 for events from before redrive existed, and for unreadable ones).
 */
function eventFacts(data: Uint8Array | undefined): { generation: number; tenant?: string } {
  try {
    const parsed = JSON.parse(decoder.decode(data)) as { generation?: unknown; tenant?: unknown };
    return {
      generation: typeof parsed.generation === 'number' ? parsed.generation : 0,
      ...(typeof parsed.tenant === 'string' ? { tenant: parsed.tenant } : {}),
    };
  } catch {
    return { generation: 0 };
  }
}

export function createDeadLetterRouter(deps: DeadLetterRouterDeps) {
  const { js, jsm } = deps;
  const crashPoint = deps.crashPoint ?? noCrashPoints;
  const log = deps.log.child({ component: 'dead-letter-router' });
  let loop: ConsumeLoop | undefined;

  /** True when ORDERS_DLQ already holds the entry for this event (beyond the dedup window). */
  async function alreadyDeadLettered(subject: string, seq: number): Promise<boolean> {
    const last = await jsm.streams
      .getMessage(ORDERS_DLQ_STREAM, { last_by_subj: subject })
      .catch(() => null);
    return last?.header.get(SOURCE_SEQ_HEADER) === String(seq);
  }

  async function route(advisory: Advisory): Promise<void> {
    const seq = advisory.stream_seq;
    if (typeof seq !== 'number') {
      log.error({ advisory }, 'advisory without stream_seq; ignored');
      return;
    }
    const kind = advisory.type?.includes('terminated') ? 'terminated' : 'max_deliveries';
    const original = await jsm.streams.getMessage(ORDERS_STREAM, { seq }).catch(() => null);
    const orderToken = dlqOrderToken(original?.subject ?? '');
    const subject = dlqSubject(orderToken);
    const reason =
      kind === 'terminated'
        ? (advisory.reason ?? 'terminated by the worker')
        : 'max deliveries exceeded';
    const error = {
      code: kind === 'terminated' ? 'TERMINATED' : 'MAX_DELIVERIES_EXCEEDED',
      message: reason,
    };
    const { generation, tenant } = eventFacts(original?.data);
    const record =
      orderToken === 'unknown'
        ? undefined
        : await deps.deadLetterOrder(orderToken, error, generation);
    if (record && generationOf(record) > generation) {
      // The order was redriven after this event failed: its new generation is in charge now.
      log.warn({ orderId: orderToken, seq }, 'advisory for a redriven order; ignored');
      return;
    }

    if (!(await alreadyDeadLettered(subject, seq))) {
      const h = natsHeaders();
      for (const [key, values] of original ? [...original.header] : []) {
        for (const value of values) h.append(`Nats-Orders-Original-${key}`, value);
      }
      h.set(SOURCE_SEQ_HEADER, String(seq));
      const body = {
        orderId: orderToken === 'unknown' ? undefined : orderToken,
        tenant: record?.context.tenant ?? tenant ?? null,
        generation,
        reason,
        kind,
        attempts: advisory.deliveries ?? null,
        lastError: record?.context.lastError ?? null,
        correlationId: record?.context.correlationId ?? null,
        traceparent: record?.context.traceparent ?? null,
        originalSubject: original?.subject ?? null,
        originalSeq: seq,
        originalData: original ? decoder.decode(original.data) : null,
        deadLetteredAt: new Date().toISOString(),
      };
      await publishWithRetry(js, subject, encoder.encode(JSON.stringify(body)), {
        msgID: `dlq:${seq}`,
        headers: h,
      });
      deps.metrics?.deadLettered.inc({ kind });
      crashPoint('dead-letter.after-publish');
    }
    log.fatal(
      {
        orderId: orderToken,
        correlationId: record?.context.correlationId,
        traceId: traceIdOf(record?.context.traceparent),
        seq,
        attempts: advisory.deliveries,
        reason,
        lastError: record?.context.lastError,
      },
      'order dead-lettered',
    );
  }

  async function handle(msg: JsMsg): Promise<void> {
    let advisory: Advisory;
    try {
      advisory = JSON.parse(decoder.decode(msg.data)) as Advisory;
    } catch {
      log.error({ seq: msg.seq }, 'unreadable advisory; dropped');
      msg.term();
      return;
    }
    try {
      await route(advisory);
      msg.ack();
    } catch (err) {
      log.error({ err, seq: advisory.stream_seq }, 'dead-lettering failed; will retry');
      msg.nak(2_000);
    }
  }

  return {
    async start(): Promise<void> {
      const consumer = await js.consumers.get(ADVISORIES_STREAM, DEAD_LETTER_CONSUMER);
      loop = await startConsumeLoop({ consumer, concurrency: 8, handle, log });
      log.info('dead-letter router consuming');
    },
    async stop(): Promise<void> {
      await loop?.stop();
      loop = undefined;
    },
    handled: (): number => loop?.handled() ?? 0,
  };
}
