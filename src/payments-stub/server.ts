/**
 * A stand-in for the external payment service (design.md section 3) for development, tests
 * and benchmarks, with latency and failure injection. It dedups on Idempotency-Key exactly as
 * the contract says a real one must, and reports what it charged per key.
 */
import { setTimeout as delay } from 'node:timers/promises';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../shared/index.js';
import { PaymentLedger } from './ledger.js';

export interface FaultSettings {
  /** Added to every call. */
  latencyMs: number;
  /** The first N calls of each key fail with `failStatus`. */
  failFirst: number;
  /** Every call fails with `failStatus`. */
  failAlways: boolean;
  /** Each call fails with `failStatus` with this probability (0..1). */
  failRate: number;
  failStatus: number;
  /** Sent as `Retry-After` (seconds) on injected failures, when set. */
  retryAfterSec: number | undefined;
  /**
   * An injected failure charges first (once per key) and then answers the failure: the
   * "unknown outcome" a client sees when the service took the money but the answer was lost.
   */
  chargeBeforeFailing: boolean;
}

export const DEFAULT_FAULTS: FaultSettings = {
  latencyMs: 0,
  failFirst: 0,
  failAlways: false,
  failRate: 0,
  failStatus: 500,
  retryAfterSec: undefined,
  chargeBeforeFailing: false,
};

interface Outcome {
  statusCode: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface PaymentsStub {
  app: FastifyInstance;
  ledger: PaymentLedger;
  faults(): FaultSettings;
  setFaults(patch: Partial<FaultSettings>): FaultSettings;
  listen(opts: { host: string; port: number }): Promise<string>;
  close(): Promise<void>;
}

const paymentBody = {
  type: 'object',
  additionalProperties: false,
  required: ['orderId', 'amount', 'currency'],
  properties: {
    orderId: { type: 'string', minLength: 1 },
    amount: { type: 'integer', minimum: 0 },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
  },
} as const;

export function createPaymentsStub(
  opts: { log?: Logger; faults?: Partial<FaultSettings> } = {},
): PaymentsStub {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger | undefined,
    logController: new LogController({ disableRequestLogging: true }),
  });
  const ledger = new PaymentLedger();
  const inFlight = new Map<string, Promise<Outcome>>();
  let faults: FaultSettings = { ...DEFAULT_FAULTS, ...opts.faults };

  function injectedFailure(calls: number): boolean {
    return faults.failAlways || calls <= faults.failFirst || Math.random() < faults.failRate;
  }

  async function attempt(key: string, amount: number, currency: string): Promise<Outcome> {
    const entry = ledger.entry(key, amount, currency);
    entry.calls += 1;
    entry.callTimes.push(Date.now());
    const calls = entry.calls;
    if (faults.latencyMs > 0) await delay(faults.latencyMs);
    if (entry.amount !== amount || entry.currency !== currency) {
      return {
        statusCode: 422,
        body: { error: 'idempotency key reused with a different payment' },
      };
    }
    // Failures come before the replay check: a broken service fails replays too.
    if (injectedFailure(calls)) {
      if (faults.chargeBeforeFailing && !entry.paymentId) ledger.charge(entry);
      return {
        statusCode: faults.failStatus,
        body: { error: 'injected failure' },
        ...(faults.retryAfterSec === undefined
          ? {}
          : { headers: { 'retry-after': String(faults.retryAfterSec) } }),
      };
    }
    if (entry.paymentId) {
      return { statusCode: 200, body: { paymentId: entry.paymentId, replayed: true } };
    }
    return { statusCode: 201, body: { paymentId: ledger.charge(entry), replayed: false } };
  }

  app.post<{ Body: { orderId: string; amount: number; currency: string } }>(
    '/payments',
    { schema: { body: paymentBody } },
    async (req, reply) => {
      const key = req.headers['idempotency-key'];
      if (typeof key !== 'string' || key.length === 0) {
        return reply.code(400).send({ error: 'Idempotency-Key header is required' });
      }
      // A second call while the first is still running waits for its outcome: one charge.
      const running = inFlight.get(key);
      let outcome: Outcome;
      if (running) {
        ledger.entry(key, req.body.amount, req.body.currency).calls += 1;
        outcome = await running;
      } else {
        const promise = attempt(key, req.body.amount, req.body.currency);
        inFlight.set(key, promise);
        try {
          outcome = await promise;
        } finally {
          inFlight.delete(key);
        }
      }
      return reply
        .code(outcome.statusCode)
        .headers(outcome.headers ?? {})
        .send(outcome.body);
    },
  );

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/_stub/ledger', async () => ledger.snapshot());
  app.get<{ Params: { key: string } }>('/_stub/ledger/:key', async (req, reply) => {
    const entry = ledger.get(req.params.key);
    return entry ? entry : reply.code(404).send({ error: 'no calls for this key' });
  });
  app.get('/_stub/faults', async () => faults);
  app.put<{ Body: Partial<FaultSettings> }>('/_stub/faults', async (req) => {
    faults = { ...faults, ...req.body };
    return faults;
  });
  app.post('/_stub/reset', async () => {
    ledger.clear();
    faults = { ...DEFAULT_FAULTS };
    return { ok: true };
  });

  return {
    app,
    ledger,
    faults: () => faults,
    setFaults(patch) {
      faults = { ...faults, ...patch };
      return faults;
    },
    async listen({ host, port }) {
      await app.listen({ host, port });
      const address = app.server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      return `http://${host}:${actualPort}`;
    },
    close: () => app.close(),
  };
}
