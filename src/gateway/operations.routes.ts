/** Probes and metrics: what orchestrators and Prometheus call, never behind an API key. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../shared/index.js';
import { refTo } from './openapi.js';
import { PROBLEM_CONTENT_TYPE, ProblemError, ProblemSchema } from './problem.js';

export interface OperationsRoutesOptions {
  /** Serves GET /metrics when given. */
  metrics?: Metrics | undefined;
  /** Whether the gateway can serve requests now (NATS connected). */
  ready: () => boolean;
}

const tags = ['operations'];

export async function operationsRoutes(
  app: FastifyInstance,
  opts: OperationsRoutesOptions,
): Promise<void> {
  const { metrics, ready } = opts;
  if (metrics) {
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics (text exposition format)',
          tags,
          response: {
            200: {
              description: 'The metrics',
              content: { 'text/plain': { schema: Type.String() } },
            },
          },
        },
      },
      async (_req, reply) =>
        reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags,
        response: {
          200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false }),
        },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: NATS is connected',
        tags,
        response: {
          200: Type.Object({ status: Type.Literal('ready') }, { additionalProperties: false }),
          503: {
            description: 'NATS is not connected',
            content: { [PROBLEM_CONTENT_TYPE]: { schema: refTo(ProblemSchema) } },
          },
        },
      },
    },
    async (_req, reply) =>
      ready()
        ? { status: 'ready' }
        : reply
            .code(503)
            .type(PROBLEM_CONTENT_TYPE)
            .send(new ProblemError(503, 'SERVICE_UNAVAILABLE', 'NATS is not connected').toBody()),
  );
}
