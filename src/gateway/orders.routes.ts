/** HTTP routes of the orders API (design.md section 3), over the transport-free OrderService. */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Authenticate } from './auth.js';
import { BODY_PROBLEMS, TENANT_KEY, answers, refTo } from './openapi.js';
import type { OrderService } from './order-service.js';
import {
  AcceptedOrderSchema,
  CreateOrderSchema,
  OrderIdParamsSchema,
  OrderViewSchema,
  type CreateOrderBody,
} from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    tenant: string;
  }
}

export interface OrdersRoutesOptions {
  service: OrderService;
  authenticate: Authenticate;
}

const security = [{ [TENANT_KEY]: [] }];
const tags = ['orders'];

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
      schema: {
        summary: 'Submit an order',
        description:
          'Accepts the order exactly once per (tenant, Idempotency-Key): a retry with the same key and body gets the first answer again (with Idempotent-Replayed: true); the same key with another body gets 422; a retry while the first is still in flight gets 409 (retry later). Processing is asynchronous: follow the order at its Location.',
        tags,
        security,
        headers: Type.Object({
          'idempotency-key': Type.String({
            minLength: 1,
            description:
              '1-255 printable ASCII characters, or the same as a quoted structured-field string ("abc")',
          }),
        }),
        body: refTo(CreateOrderSchema),
        response: answers(
          {
            status: 202,
            description: 'Accepted (or the replay of an earlier acceptance)',
            schema: refTo(AcceptedOrderSchema),
            headers: {
              location: Type.String({ description: '/orders/{orderId}' }),
              'idempotent-replayed': Type.Literal('true', {
                description: 'Present when this is the answer to an earlier request',
              }),
            },
          },
          [...BODY_PROBLEMS, 401, 409, 422],
        ),
      },
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

  app.get<{ Params: { orderId: string } }>(
    '/orders/:orderId',
    {
      schema: {
        summary: 'Read an order',
        description: "Another tenant's order is not found (404), never shown.",
        tags,
        security,
        params: OrderIdParamsSchema,
        response: answers(
          { status: 200, description: 'The order', schema: refTo(OrderViewSchema) },
          [401, 404],
        ),
      },
    },
    async (req) => service.get(req.tenant, req.params.orderId),
  );

  app.post<{ Params: { orderId: string } }>(
    '/orders/:orderId/cancel',
    {
      schema: {
        summary: 'Cancel an order that has not been tried yet',
        description:
          'Only from CREATED (no payment attempted); repeating a successful cancel answers the same. Any later status gives 409: a payment with an unknown outcome may have charged.',
        tags,
        security,
        params: OrderIdParamsSchema,
        response: answers(
          { status: 200, description: 'The cancelled order', schema: refTo(OrderViewSchema) },
          // A cancel carries no body, but a client may send one: it is parsed like any other.
          [...BODY_PROBLEMS, 401, 404, 409],
        ),
      },
    },
    async (req) => service.cancel(req.tenant, req.params.orderId),
  );
}
