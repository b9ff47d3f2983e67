/**
 * The admin HTTP API over the dead-letter queue, the same operations as `nats-orders dlq`:
 * list, show, redrive one or all matching a filter, purge. Behind `ADMIN_API_KEY` (a bearer
 * key of its own, never a tenant key); without it the routes answer 403 ADMIN_API_DISABLED.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { DeadLetterDesk, RedriveResult } from '../relay/index.js';
import { createAuthenticator } from './auth.js';
import { ProblemError } from './problem.js';

export interface AdminRoutesOptions {
  deadLetters: DeadLetterDesk;
  adminApiKey: string | undefined;
}

const FilterFields = {
  tenant: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  kind: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  errorCode: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
};
const ListQuerySchema = Type.Object(
  {
    ...FilterFields,
    orderId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    // A string: query values are never coerced (see AJV_OPTIONS).
    limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,3}$' })),
  },
  { additionalProperties: false },
);
/** An empty filter `{}` means every entry: the body is required so that "all" is explicit. */
const FilterBodySchema = Type.Object(FilterFields, { additionalProperties: false });
type ListQuery = Static<typeof ListQuerySchema>;
type FilterBody = Static<typeof FilterBodySchema>;

const notRedrivable = (result: RedriveResult) =>
  new ProblemError(409, 'DEAD_LETTER_NOT_REDRIVABLE', result.detail);

function tally(results: readonly RedriveResult[]): Record<string, number> {
  const counts: Record<string, number> = { redriven: 0, already_redriven: 0, not_redrivable: 0 };
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
    { schema: { querystring: ListQuerySchema } },
    async (req) => {
      const { limit, ...filter } = req.query;
      return deadLetters.list(filter, limit ? Number(limit) : 100);
    },
  );

  app.get<{ Params: { orderId: string } }>('/dlq/:orderId', async (req) => {
    const entry = await deadLetters.show(req.params.orderId);
    if (!entry) throw new ProblemError(404, 'DEAD_LETTER_NOT_FOUND');
    return entry;
  });

  app.post<{ Params: { orderId: string } }>('/dlq/:orderId/redrive', async (req) => {
    const result = await deadLetters.redrive(req.params.orderId);
    if (!result) throw new ProblemError(404, 'DEAD_LETTER_NOT_FOUND');
    if (result.outcome === 'not_redrivable') throw notRedrivable(result);
    return result;
  });

  app.post<{ Body: FilterBody }>(
    '/dlq/redrive',
    { schema: { body: FilterBodySchema } },
    async (req) => {
      const results = await deadLetters.redriveAll(req.body);
      return { counts: tally(results), results };
    },
  );

  app.delete<{ Params: { orderId: string } }>('/dlq/:orderId', async (req) => {
    const purged = await deadLetters.purge(req.params.orderId);
    if (purged === 0) throw new ProblemError(404, 'DEAD_LETTER_NOT_FOUND');
    return { purged };
  });

  app.post<{ Body: FilterBody }>(
    '/dlq/purge',
    { schema: { body: FilterBodySchema } },
    async (req) => ({ purged: await deadLetters.purgeAll(req.body) }),
  );
}
