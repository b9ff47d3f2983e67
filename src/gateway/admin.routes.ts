/**
 * The admin HTTP API over the dead-letter queue, the same operations as `nats-orders dlq`:
 * list, show, redrive one or all matching a filter, purge. Behind `ADMIN_API_KEY` (a bearer
 * key of its own, never a tenant key); without it the routes answer 403 ADMIN_API_DISABLED.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { DeadLetterDesk, RedriveResult } from '../relay/index.js';
import {
  DeadLetterSchema,
  FilterBodySchema,
  ListQuerySchema,
  RedriveBodySchema,
  RedriveResultSchema,
  ResumeSchema,
  type FilterBody,
  type ListQuery,
  type RedriveBody,
} from './admin.schemas.js';
import { createAuthenticator } from './auth.js';
import { ADMIN_KEY, BODY_PROBLEMS, answers, refTo } from './openapi.js';
import { ProblemError } from './problem.js';
import { OrderIdParamsSchema } from './schemas.js';

export interface AdminRoutesOptions {
  deadLetters: DeadLetterDesk;
  adminApiKey: string | undefined;
}

const security = [{ [ADMIN_KEY]: [] }];
const tags = ['dead letters'];
const Purged = Type.Object(
  { purged: Type.Integer({ description: 'Entries removed' }) },
  { additionalProperties: false },
);
const OUTCOMES = ['redriven', 'already_redriven', 'not_redrivable'] as const;
/** The fields of a paged answer: `resume` is there when `truncated` is true. */
const PAGED = {
  truncated: Type.Boolean({ description: 'More entries matched than this page holds' }),
  resume: Type.Optional(ResumeSchema),
};
/** Every route may answer 401 (wrong key) and 403 (ADMIN_API_KEY unset). */
const GUARDED = [401, 403];

const notRedrivable = (result: RedriveResult) =>
  new ProblemError(409, 'DEAD_LETTER_NOT_REDRIVABLE', result.detail);

function tally(results: readonly RedriveResult[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
  for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return counts;
}

export async function adminRoutes(app: FastifyInstance, opts: AdminRoutesOptions): Promise<void> {
  const { deadLetters, adminApiKey } = opts;
  const authenticate = adminApiKey
    ? createAuthenticator(new Map([[adminApiKey, 'admin']]))
    : undefined;
  app.addHook('onRequest', async (req) => {
    if (!authenticate)
      throw new ProblemError(
        403,
        'ADMIN_API_DISABLED',
        'set ADMIN_API_KEY to enable the admin API',
      );
    authenticate(req.headers.authorization);
  });

  app.get<{ Querystring: ListQuery }>(
    '/dlq',
    {
      schema: {
        summary: 'List dead letters, oldest first, optionally filtered',
        tags,
        security,
        querystring: ListQuerySchema,
        response: answers(
          {
            status: 200,
            description:
              "Matching entries; truncated when there are more than `limit`, and then `resume.afterSeq` is the next page's `afterSeq`",
            schema: Type.Object(
              { entries: Type.Array(refTo(DeadLetterSchema)), ...PAGED },
              { additionalProperties: false },
            ),
          },
          [...GUARDED, 400],
        ),
      },
    },
    async (req) => {
      const { limit, afterSeq, ...filter } = req.query;
      return deadLetters.list(filter, {
        limit: limit ? Number(limit) : 100,
        ...(afterSeq ? { afterSeq: Number(afterSeq) } : {}),
      });
    },
  );

  app.get<{ Params: { orderId: string } }>(
    '/dlq/:orderId',
    {
      schema: {
        summary: "Show an order's dead letter",
        tags,
        security,
        params: OrderIdParamsSchema,
        response: answers(
          { status: 200, description: 'The entry', schema: refTo(DeadLetterSchema) },
          [...GUARDED, 404],
        ),
      },
    },
    async (req) => {
      const entry = await deadLetters.show(req.params.orderId);
      if (!entry) throw new ProblemError(404, 'DEAD_LETTER_NOT_FOUND');
      return entry;
    },
  );

  app.post<{ Params: { orderId: string } }>(
    '/dlq/:orderId/redrive',
    {
      schema: {
        summary: 'Run a dead-lettered order again',
        description:
          'The order goes back to CREATED in a new generation with a fresh delivery budget; the payment is idempotent on the order id, so an order charged during an unknown outcome is not charged again. The entry is removed.',
        tags,
        security,
        params: OrderIdParamsSchema,
        response: answers(
          { status: 200, description: 'Redriven', schema: refTo(RedriveResultSchema) },
          [...GUARDED, ...BODY_PROBLEMS, 404, 409],
        ),
      },
    },
    async (req) => {
      const result = await deadLetters.redrive(req.params.orderId);
      if (!result) throw new ProblemError(404, 'DEAD_LETTER_NOT_FOUND');
      if (result.outcome === 'not_redrivable') throw notRedrivable(result);
      return result;
    },
  );

  app.post<{ Body: RedriveBody }>(
    '/dlq/redrive',
    {
      schema: {
        summary: 'Redrive the dead letters that match a filter ({} = all), a page at a time',
        description:
          "Handles up to `limit` entries, oldest first. When more match (`truncated`), send the same request with the answer's `resume` fields added for the next page. The walk ends at the entry that was last when its first page started, so orders that die again meanwhile wait for the next walk.",
        tags,
        security,
        body: RedriveBodySchema,
        response: answers(
          {
            status: 200,
            description: 'What happened to each entry of the page',
            schema: Type.Object(
              {
                counts: Type.Object(Object.fromEntries(OUTCOMES.map((o) => [o, Type.Integer()])), {
                  additionalProperties: false,
                }),
                results: Type.Array(refTo(RedriveResultSchema)),
                ...PAGED,
              },
              { additionalProperties: false },
            ),
          },
          [...GUARDED, ...BODY_PROBLEMS],
        ),
      },
    },
    async (req) => {
      const { limit, afterSeq, upToSeq, ...filter } = req.body;
      const page = await deadLetters.redrivePage(filter, { limit, afterSeq, upToSeq });
      return { counts: tally(page.results), ...page };
    },
  );

  app.delete<{ Params: { orderId: string } }>(
    '/dlq/:orderId',
    {
      schema: {
        summary: "Remove an order's dead letter (the order stays FAILED_PERMANENT)",
        tags,
        security,
        params: OrderIdParamsSchema,
        // No body is expected, but one sent is parsed (400/413/415) as on any DELETE.
        response: answers({ status: 200, description: 'Removed', schema: Purged }, [
          ...GUARDED,
          ...BODY_PROBLEMS,
          404,
        ]),
      },
    },
    async (req) => {
      const purged = await deadLetters.purge(req.params.orderId);
      if (purged === 0) throw new ProblemError(404, 'DEAD_LETTER_NOT_FOUND');
      return { purged };
    },
  );

  app.post<{ Body: FilterBody }>(
    '/dlq/purge',
    {
      schema: {
        summary: 'Remove every dead letter that matches a filter ({} = all)',
        tags,
        security,
        body: FilterBodySchema,
        response: answers({ status: 200, description: 'Removed', schema: Purged }, [
          ...GUARDED,
          ...BODY_PROBLEMS,
        ]),
      },
    },
    async (req) => ({ purged: await deadLetters.purgeAll(req.body) }),
  );
}
