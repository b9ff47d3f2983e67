/**
 * The HTTP application: `buildApp(deps)` wires the routes to their dependencies and maps every
 * error to a problem+json answer with a stable code. No I/O happens here at import or build
 * time; the caller owns connections and listening.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { nuid } from '@nats-io/transport-node';
import type { DeadLetterDesk } from '../relay/index.js';
import { PACKAGE_VERSION, type Logger, type Metrics } from '../shared/index.js';
import { adminRoutes } from './admin.routes.js';
import { DeadLetterSchema, RedriveResultSchema } from './admin.schemas.js';
import type { Authenticate } from './auth.js';
import type { OrderService } from './order-service.js';
import { registerHttpGuards, type HttpGuardOptions } from './http-guards.js';
import { registerOpenApi } from './openapi.js';
import { operationsRoutes } from './operations.routes.js';
import { ordersRoutes } from './orders.routes.js';
import {
  PROBLEM_CONTENT_TYPE,
  ProblemError,
  ProblemSchema,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  asProblem,
} from './problem.js';
import {
  AJV_OPTIONS,
  AcceptedOrderSchema,
  CreateOrderSchema,
  MAX_BODY_BYTES,
  OrderViewSchema,
  validationProblem,
} from './schemas.js';

/** The schemas routes refer to by $id; the OpenAPI document lists them as components. */
const SHARED_SCHEMAS = [
  ProblemSchema,
  CreateOrderSchema,
  AcceptedOrderSchema,
  OrderViewSchema,
  DeadLetterSchema,
  RedriveResultSchema,
];

export interface AppDeps {
  service: OrderService;
  authenticate: Authenticate;
  /** Security headers and the rate limit (http-guards.ts). */
  guards: HttpGuardOptions;
  /** The dead-letter queue for the admin routes, and the key that guards them. */
  deadLetters?: DeadLetterDesk;
  adminApiKey?: string | undefined;
  /** Serves GET /metrics and times every request when given. */
  metrics?: Metrics;
  /** Whether the gateway can serve requests now (NATS connected). */
  ready: () => boolean;
  log: Logger;
}

const CORRELATION_ID = /^[\w.:-]{1,128}$/;

/** Fastify's own client errors, by code, as problems. */
function frameworkProblem(err: FastifyError): ProblemError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError(415, 'UNSUPPORTED_MEDIA_TYPE');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ProblemError(413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${MAX_BODY_BYTES} bytes`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ProblemError(400, 'MALFORMED_JSON');
    default:
      break;
  }
  if (err.validation)
    return validationProblem(err.validation as Parameters<typeof validationProblem>[0]);
  // The JSON parser's SyntaxError arrives with a 400 status and no code of its own.
  if (err instanceof SyntaxError && err.statusCode === 400)
    return new ProblemError(400, 'MALFORMED_JSON');
  return undefined;
}

function notFound(req: FastifyRequest, reply: FastifyReply) {
  return reply
    .code(404)
    .type(PROBLEM_CONTENT_TYPE)
    .send(new ProblemError(404, 'NOT_FOUND').toBody(req.url));
}

export function buildApp(deps: AppDeps): FastifyInstance {
  // Fastify's logger type is pino's minus a few fields: widen by assignment, not assertion.
  const loggerInstance: FastifyBaseLogger = deps.log.child({ component: 'gateway' });
  const app: FastifyInstance = Fastify({
    loggerInstance,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    ajv: { customOptions: AJV_OPTIONS },
    requestIdHeader: false,
    // The correlation id of an order: the caller's X-Correlation-Id when well-formed, else new.
    genReqId: (req) => {
      const given = req.headers['x-correlation-id'];
      return typeof given === 'string' && CORRELATION_ID.test(given) ? given : nuid.next();
    },
  });

  // JSON only: Fastify also parses text/plain by default, which would turn a 415 into a 400.
  app.removeContentTypeParser('text/plain');
  registerHttpGuards(app, deps.guards);
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  registerOpenApi(app, { version: PACKAGE_VERSION });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    // No route matched: Fastify still parses the body on the way to the not-found handler, so
    // a broken body would otherwise answer 400/413/415 for a route that does not exist.
    if (req.is404) return notFound(req, reply);
    const problem = err instanceof ProblemError ? err : (frameworkProblem(err) ?? asProblem(err));
    if (problem.statusCode >= 500) req.log.error({ err }, 'request failed');
    // RFC 6750: a refused bearer token says which scheme the API expects.
    if (problem.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="nats-orders"');
    if (problem.statusCode === 503) reply.header('retry-after', UNAVAILABLE_RETRY_AFTER_SECONDS);
    return reply.code(problem.statusCode).type(PROBLEM_CONTENT_TYPE).send(problem.toBody(req.url));
  });
  app.setNotFoundHandler(notFound);
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-correlation-id', req.id);
  });

  const { metrics } = deps;
  if (metrics) {
    app.addHook('onResponse', async (req, reply) => {
      metrics.httpRequestDuration.observe(
        {
          method: req.method,
          // The route template (/orders/:orderId), never the raw URL: a bounded label set.
          route: req.routeOptions.url ?? 'unmatched',
          status_code: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
  }
  void app.register(operationsRoutes, { metrics, ready: deps.ready });
  void app.register(ordersRoutes, { service: deps.service, authenticate: deps.authenticate });
  if (deps.deadLetters) {
    void app.register(adminRoutes, {
      prefix: '/admin',
      deadLetters: deps.deadLetters,
      adminApiKey: deps.adminApiKey,
    });
  }
  return app;
}
