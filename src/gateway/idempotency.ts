/**
 * Request deduplication through the `idempotency` KV bucket: one entry per (tenant, key) with
 * the request's fingerprint, the order id chosen for it and a lease while the first request is
 * in flight. `create` (create-if-absent) makes exactly one request the owner; the others replay,
 * wait (409) or are refused (422).
 *
 * The entry is written once. Its response is not stored: a 202 says only what the order it
 * names says (id, CREATED, amount, currency), so a replay reads that order and answers the same
 * body. A second write per order (the response) cost every POST a round trip, and the order's
 * existence is a better "done" than a flag: a gateway that died after creating the order but
 * before answering leaves a key that replays at once instead of blocking until its lease ends.
 */
import { createHash } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { stringify } from 'safe-stable-stringify';
import { isKvConflict } from '../shared/index.js';
import { ProblemError } from './problem.js';

export interface StoredResponse {
  statusCode: number;
  body: unknown;
}

interface IdempotencyRecord {
  v: 1;
  fingerprint: string;
  orderId: string;
  /** Epoch ms until which the owner holds the key; after it, a retry may take over. */
  leaseUntil: number;
  /** The request (its would-be order id) that took over an expired lease, if one did. */
  takenOverBy?: string;
}

export type Claim =
  | { kind: 'claimed'; orderId: string; takeover: boolean }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'in_flight' }
  | { kind: 'mismatch' };

const MAX_KEY_LENGTH = 255;
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;

/**
 * The Idempotency-Key header: 1-255 printable ASCII characters, or the same as a quoted
 * structured-field string (`"abc"`, with `\"` and `\\` escapes).
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string {
  if (header === undefined || header === '') throw new ProblemError(400, 'IDEMPOTENCY_KEY_MISSING');
  if (Array.isArray(header)) {
    throw new ProblemError(
      400,
      'IDEMPOTENCY_KEY_INVALID',
      'send exactly one Idempotency-Key header',
    );
  }
  let key = header;
  if (header.startsWith('"')) {
    const match = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(header);
    if (!match)
      throw new ProblemError(400, 'IDEMPOTENCY_KEY_INVALID', 'malformed quoted Idempotency-Key');
    key = match[1]!.replace(/\\(["\\])/g, '$1');
  }
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !PRINTABLE_ASCII.test(key)) {
    throw new ProblemError(
      400,
      'IDEMPOTENCY_KEY_INVALID',
      `Idempotency-Key must be 1-${MAX_KEY_LENGTH} printable ASCII characters`,
    );
  }
  return key;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');

/** Same request, same fingerprint: key order and whitespace do not matter. */
export function requestFingerprint(operation: string, body: unknown): string {
  return sha256(`${operation}\n${stringify(body)}`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (record: IdempotencyRecord): Uint8Array => encoder.encode(JSON.stringify(record));

export type IdempotencyStore = ReturnType<typeof createIdempotencyStore>;

export function createIdempotencyStore(opts: {
  kv: KV;
  leaseMs: number;
  /** The answer to replay for a key whose order exists; undefined while it does not. */
  acceptedResponse: (orderId: string) => Promise<StoredResponse | undefined>;
  now?: () => number;
}) {
  const { kv, leaseMs, acceptedResponse } = opts;
  const now = opts.now ?? Date.now;

  /** Tenant-scoped, and hashed: any printable key becomes a valid, fixed-length KV key. */
  const kvKeyFor = (tenant: string, key: string): string => `${tenant}.${sha256(key)}`;

  async function claim(
    tenant: string,
    key: string,
    fingerprint: string,
    newOrderId: string,
  ): Promise<Claim> {
    const kvKey = kvKeyFor(tenant, key);
    for (let attempt = 0; attempt < 5; attempt++) {
      const fresh: IdempotencyRecord = {
        v: 1,
        fingerprint,
        orderId: newOrderId,
        leaseUntil: now() + leaseMs,
      };
      try {
        await kv.create(kvKey, encode(fresh));
        return { kind: 'claimed', orderId: newOrderId, takeover: false };
      } catch (err) {
        if (!isKvConflict(err)) throw err;
      }
      const entry = await kv.get(kvKey);
      if (!entry || entry.operation !== 'PUT') continue; // expired or deleted meanwhile: create again
      const existing = JSON.parse(decoder.decode(entry.value)) as IdempotencyRecord;
      if (existing.fingerprint !== fingerprint) return { kind: 'mismatch' };
      // This request's own entry (the order id is new to it): the create was stored, yet answered
      // "wrong last sequence", as a replicated bucket sometimes does under load (nats-server#7281).
      if (existing.orderId === newOrderId)
        return { kind: 'claimed', orderId: newOrderId, takeover: false };
      // Likewise this request's own takeover, stored though its answer was lost (a timeout).
      if (existing.takenOverBy === newOrderId)
        return { kind: 'claimed', orderId: existing.orderId, takeover: true };
      const response = await acceptedResponse(existing.orderId);
      if (response) return { kind: 'replay', response };
      if (existing.leaseUntil > now()) return { kind: 'in_flight' };
      // The owner died before creating the order: take over its lease and create the same order.
      try {
        await kv.update(
          kvKey,
          encode({ ...existing, leaseUntil: now() + leaseMs, takenOverBy: newOrderId }),
          entry.revision,
        );
        return { kind: 'claimed', orderId: existing.orderId, takeover: true };
      } catch (err) {
        if (!isKvConflict(err)) throw err;
        return { kind: 'in_flight' }; // another retry took it over first
      }
    }
    return { kind: 'in_flight' };
  }

  return { claim };
}
