/**
 * Request and answer shapes of the admin API over the dead-letter queue (admin.routes.ts). The
 * answers mirror `DeadLetter` and `RedriveResult` of the relay's DeadLetterDesk.
 */
import { Type, type Static } from '@sinclair/typebox';
import { OrderErrorSchema, OrderStatusSchema } from './schemas.js';

const FilterFields = {
  tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  kind: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'max_deliveries or terminated' }),
  ),
  errorCode: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: "The order's last error code, e.g. PAYMENT_UNAVAILABLE_503",
    }),
  ),
};

export const ListQuerySchema = Type.Object(
  {
    ...FilterFields,
    orderId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    // A string: query values are never coerced (see AJV_OPTIONS).
    limit: Type.Optional(
      Type.String({ pattern: '^[1-9][0-9]{0,3}$', description: '1-9999, default 100' }),
    ),
    afterSeq: Type.Optional(
      Type.String({
        pattern: '^[1-9][0-9]{0,14}$',
        description: 'Only entries after this sequence: `resume.afterSeq` of the previous page',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuerySchema>;

/** An empty filter `{}` means every entry: the body is required so that "all" is explicit. */
export const FilterBodySchema = Type.Object(FilterFields, { additionalProperties: false });
export type FilterBody = Static<typeof FilterBodySchema>;

const Seq = (description: string) =>
  Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description }));

/** Where the next page of a paged answer starts: sent back as it is in the next request. */
export const ResumeSchema = Type.Object(
  {
    afterSeq: Type.Integer({ description: 'The last entry handled' }),
    upToSeq: Type.Optional(Type.Integer({ description: 'The end of the walk' })),
  },
  { additionalProperties: false },
);

/** A filter, and the page of a bulk redrive: its size, and where it starts (`resume`). */
export const RedriveBodySchema = Type.Object(
  {
    ...FilterFields,
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        description: 'At most this many entries per request (default 1000)',
      }),
    ),
    afterSeq: Seq('Only entries after this sequence: from `resume` of the previous page'),
    upToSeq: Seq('Only entries up to this sequence: from `resume` of the previous page'),
  },
  { additionalProperties: false },
);
export type RedriveBody = Static<typeof RedriveBodySchema>;

export const DeadLetterSchema = Type.Object(
  {
    seq: Type.Integer({ description: 'Sequence in ORDERS_DLQ' }),
    orderId: Type.Optional(Type.String({ description: 'Absent for an event that named no order' })),
    tenant: Type.Optional(Type.String()),
    generation: Type.Integer({ description: "The order's generation when it was dead-lettered" }),
    kind: Type.String({ description: 'max_deliveries, terminated or unreadable' }),
    reason: Type.String(),
    attempts: Type.Optional(Type.Integer()),
    lastError: Type.Optional(OrderErrorSchema),
    originalSubject: Type.Optional(Type.String()),
    originalSeq: Type.Optional(Type.Integer()),
    deadLetteredAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { $id: 'DeadLetter', additionalProperties: false },
);

const RedriveOutcomeSchema = Type.Union([
  Type.Literal('redriven'),
  Type.Literal('already_redriven'),
  Type.Literal('not_redrivable'),
]);

export const RedriveResultSchema = Type.Object(
  {
    seq: Type.Integer(),
    orderId: Type.Optional(Type.String()),
    outcome: RedriveOutcomeSchema,
    status: Type.Optional(OrderStatusSchema),
    detail: Type.Optional(Type.String()),
  },
  { $id: 'RedriveResult', additionalProperties: false },
);
