/**
 * The request and response shapes of the orders API. HTTP routes and the NATS API validate
 * with the same schemas and the same Ajv options, so both paths accept exactly the same input.
 * The shapes with an `$id` are shared schemas (`app.addSchema`): routes refer to them, Fastify
 * serializes answers through them, and the OpenAPI document lists them as components.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { ORDER_STATUSES } from '../shared/index.js';
import { ProblemError } from './problem.js';

export const MAX_ITEMS = 100;
export const MAX_BODY_BYTES = 64 * 1024;

export const OrderItemSchema = Type.Object(
  {
    sku: Type.String({ minLength: 1, maxLength: 64 }),
    quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
    unitPrice: Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 }),
  },
  { additionalProperties: false },
);

export const CreateOrderSchema = Type.Object(
  {
    customerId: Type.String({ minLength: 1, maxLength: 128 }),
    currency: Type.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 code, such as USD' }),
    items: Type.Array(OrderItemSchema, { minItems: 1, maxItems: MAX_ITEMS }),
  },
  {
    $id: 'CreateOrder',
    additionalProperties: false,
    description:
      "An order as a client submits it. The total, the status and the tenant are the server's: a body that names them is refused.",
  },
);
export type CreateOrderBody = Static<typeof CreateOrderSchema>;

/** The `:orderId` path parameter of the order and dead-letter routes. */
export const OrderIdParamsSchema = Type.Object({
  orderId: Type.String({ description: 'The id the gateway gave the order' }),
});

export const OrderStatusSchema = Type.Union(ORDER_STATUSES.map((s) => Type.Literal(s)));

const Timestamp = Type.String({ format: 'date-time' });

export const AcceptedOrderSchema = Type.Object(
  {
    orderId: Type.String(),
    status: Type.Literal('CREATED'),
    amount: Type.Integer({ description: 'The total in minor units (cents)' }),
    currency: Type.String(),
  },
  { $id: 'AcceptedOrder', additionalProperties: false },
);
export type AcceptedOrder = Static<typeof AcceptedOrderSchema>;

export const OrderErrorSchema = Type.Object(
  { code: Type.String(), message: Type.String() },
  { additionalProperties: false },
);

export const OrderViewSchema = Type.Object(
  {
    orderId: Type.String(),
    status: OrderStatusSchema,
    amount: Type.Integer({ description: 'The total in minor units (cents)' }),
    currency: Type.String(),
    attempts: Type.Integer({ description: 'Payment attempts so far' }),
    lastError: Type.Optional(OrderErrorSchema),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    history: Type.Array(
      Type.Object({ status: OrderStatusSchema, at: Timestamp }, { additionalProperties: false }),
      { description: 'Every status the order went through, oldest first' },
    ),
  },
  { $id: 'OrderView', additionalProperties: false },
);
export type OrderView = Static<typeof OrderViewSchema>;

/** The Ajv options both paths use: reject (never strip) unknown fields, never coerce types. */
export const AJV_OPTIONS = {
  removeAdditional: false,
  coerceTypes: false,
  useDefaults: false,
  allErrors: true,
} as const;

/** Ajv errors as one problem: UNKNOWN_FIELD, MISSING_FIELD or INVALID_FIELD, with pointers. */
export function validationProblem(errors: readonly ErrorObject[]): ProblemError {
  const list = errors.map((e) => {
    if (e.keyword === 'additionalProperties') {
      const field = (e.params as { additionalProperty: string }).additionalProperty;
      return {
        code: 'UNKNOWN_FIELD',
        pointer: `${e.instancePath}/${field}`,
        message: `unknown field "${field}"`,
      };
    }
    if (e.keyword === 'required') {
      const field = (e.params as { missingProperty: string }).missingProperty;
      return {
        code: 'MISSING_FIELD',
        pointer: `${e.instancePath}/${field}`,
        message: `"${field}" is required`,
      };
    }
    return {
      code: 'INVALID_FIELD',
      pointer: e.instancePath || '/',
      message: e.message ?? 'invalid value',
    };
  });
  const code =
    list.find((e) => e.code === 'UNKNOWN_FIELD')?.code ??
    list.find((e) => e.code === 'MISSING_FIELD')?.code ??
    'INVALID_FIELD';
  return new ProblemError(
    400,
    code,
    list.map((e) => `${e.pointer}: ${e.message}`).join('; '),
    list.map(({ pointer, message }) => ({ pointer, message })),
  );
}

const ajv = new Ajv(AJV_OPTIONS);
const validateCreate = ajv.compile<CreateOrderBody>(CreateOrderSchema);

/** Validates a parsed body for the NATS path (HTTP gets the same from Fastify's schema). */
export function parseCreateOrder(body: unknown): CreateOrderBody {
  if (!validateCreate(body)) throw validationProblem(validateCreate.errors ?? []);
  return body;
}

/** The order total in minor units; refused when it cannot be represented exactly. */
export function orderAmount(body: CreateOrderBody): number {
  const amount = body.items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
  if (!Number.isSafeInteger(amount)) {
    throw new ProblemError(400, 'AMOUNT_TOO_LARGE', 'the order total exceeds 2^53-1 minor units');
  }
  return amount;
}
