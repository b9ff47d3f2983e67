/**
 * The small HTTP server through which a worker or a relay offers `/metrics` (and `/healthz`)
 * on METRICS_PORT. The gateway serves `/metrics` on its own HTTP port instead.
 */
import Fastify from 'fastify';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: {
  metrics: Metrics;
  host: string;
  port: number;
  log: Logger;
}): Promise<MetricsServer> {
  const app = Fastify({ logger: false });
  const { registry } = opts.metrics;
  app.get('/metrics', async (_req, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
  app.get('/healthz', async () => ({ status: 'ok' }));
  const url = await app.listen({ host: opts.host, port: opts.port });
  opts.log.info({ url: `${url}/metrics` }, 'metrics listening');
  return { url, close: () => app.close() };
}
