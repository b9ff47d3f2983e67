/**
 * The NATS request-reply face of the orders API: `orders.api.create`, `.get` and `.cancel` in
 * the `orders-gateway` queue group, with the same semantics and bodies as HTTP. Errors carry
 * `Nats-Service-Error-Code` (the HTTP-equivalent status) and `Nats-Service-Error`.
 */
import {
  headers as natsHeaders,
  nuid,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import {
  API_CANCEL_SUBJECT,
  API_CREATE_SUBJECT,
  API_GET_SUBJECT,
  API_QUEUE_GROUP,
  type Logger,
} from '../shared/index.js';
import type { Authenticate } from './auth.js';
import type { OrderService } from './order-service.js';
import { ProblemError, asProblem } from './problem.js';
import { MAX_BODY_BYTES, parseCreateOrder } from './schemas.js';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A request header, or undefined when absent (nats.js answers "" for a missing header). */
function header(msg: Msg, name: string): string | undefined {
  const value = msg.headers?.get(name);
  return value === undefined || value === '' ? undefined : value;
}

function parseJson(msg: Msg): unknown {
  if (msg.data.length > MAX_BODY_BYTES) throw new ProblemError(413, 'PAYLOAD_TOO_LARGE');
  try {
    return JSON.parse(decoder.decode(msg.data));
  } catch {
    throw new ProblemError(400, 'MALFORMED_JSON');
  }
}

const CORRELATION_ID = /^[\w.:-]{1,128}$/;

export function startNatsApi(deps: {
  nc: NatsConnection;
  service: OrderService;
  authenticate: Authenticate;
  log: Logger;
}) {
  const { nc, service, authenticate } = deps;
  const log = deps.log.child({ component: 'gateway-nats' });

  function reply(msg: Msg, body: unknown, extraHeaders: Record<string, string> = {}): void {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(extraHeaders)) h.set(k, v);
    msg.respond(encoder.encode(JSON.stringify(body)), { headers: h });
  }

  function replyError(msg: Msg, err: unknown): void {
    const problem = asProblem(err);
    if (problem.statusCode >= 500) log.error({ err }, 'NATS API request failed');
    const body = problem.toBody(msg.subject);
    reply(msg, body, {
      'Nats-Service-Error-Code': String(problem.statusCode),
      'Nats-Service-Error': body.title,
    });
  }

  async function handleCreate(msg: Msg): Promise<void> {
    const tenant = authenticate(header(msg, 'Authorization'));
    const idempotencyKey = service.idempotencyKey(header(msg, 'Idempotency-Key'));
    const body = parseCreateOrder(parseJson(msg));
    const correlation = header(msg, 'X-Correlation-Id');
    const result = await service.create({
      tenant,
      idempotencyKey,
      body,
      correlationId: correlation && CORRELATION_ID.test(correlation) ? correlation : nuid.next(),
      traceparent: header(msg, 'traceparent'),
    });
    reply(msg, result.body, result.replayed ? { 'Idempotent-Replayed': 'true' } : {});
  }

  /** Either {"orderId": "..."} or the bare id, for `nats req orders.api.get <id>`. */
  function requestedOrderId(msg: Msg): string {
    const text = decoder.decode(msg.data).trim();
    const orderId = text.startsWith('{') ? (parseJson(msg) as { orderId?: unknown }).orderId : text;
    if (typeof orderId !== 'string' || orderId === '')
      throw new ProblemError(400, 'MISSING_FIELD', '"orderId" is required');
    return orderId;
  }

  async function handleGet(msg: Msg): Promise<void> {
    const tenant = authenticate(header(msg, 'Authorization'));
    reply(msg, await service.get(tenant, requestedOrderId(msg)));
  }

  async function handleCancel(msg: Msg): Promise<void> {
    const tenant = authenticate(header(msg, 'Authorization'));
    reply(msg, await service.cancel(tenant, requestedOrderId(msg)));
  }

  function serve(subject: string, handler: (msg: Msg) => Promise<void>): Subscription {
    return nc.subscribe(subject, {
      queue: API_QUEUE_GROUP,
      callback: (err, msg) => {
        if (err) {
          log.error({ err, subject }, 'NATS API subscription failed');
          return;
        }
        handler(msg).catch((e: unknown) => replyError(msg, e));
      },
    });
  }

  const subscriptions = [
    serve(API_CREATE_SUBJECT, handleCreate),
    serve(API_GET_SUBJECT, handleGet),
    serve(API_CANCEL_SUBJECT, handleCancel),
  ];
  return {
    /** Stops taking requests; requests already received finish during the connection drain. */
    async stop(): Promise<void> {
      await Promise.all(subscriptions.map((s) => s.drain()));
    },
  };
}
