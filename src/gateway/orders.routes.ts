/** HTTP routes of the orders API (design.md section 3), over the transport-free OrderService. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticate } from './auth.js';
import type { OrderService } from './order-service.js';
import { CreateOrderSchema, type CreateOrderBody } from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: string;
  }
}

export interface OrdersRoutesOptions {
  service: OrderService;
  authenticate: Authenticate;
}

export async function ordersRoutes(app: FastifyInstance, opts: OrdersRoutesOptions): Promise<void> {
  const { service, authenticate } = opts;
  app.decorateRequest('tenant', '');
  // Before the body is read: an unauthenticated caller learns nothing about body rules.
  app.addHook('onRequest', async (req: FastifyRequest) => {
    req.tenant = authenticate(req.headers.authorization);
  });

  app.post<{ Body: CreateOrderBody }>(
    '/orders',
    {
      schema: { body: CreateOrderSchema },
      // The key is checked before the body, so a retry with a broken key is told so first.
      preValidation: async (req) => {
        service.idempotencyKey(req.headers['idempotency-key']);
      },
    },
    async (req, reply) => {
      const result = await service.create({
        tenant: req.tenant,
        idempotencyKey: service.idempotencyKey(req.headers['idempotency-key']),
        body: req.body,
        correlationId: req.id,
        traceparent: req.headers.traceparent as string | undefined,
      });
      reply.code(result.statusCode).header('location', `/orders/${result.body.orderId}`);
      if (result.replayed) reply.header('idempotent-replayed', 'true');
      return result.body;
    },
  );

  app.get<{ Params: { orderId: string } }>('/orders/:orderId', async (req) =>
    service.get(req.tenant, req.params.orderId),
  );

  app.post<{ Params: { orderId: string } }>('/orders/:orderId/cancel', async (req) =>
    service.cancel(req.tenant, req.params.orderId),
  );
}
