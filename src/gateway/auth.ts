/**
 * API keys (bearer) mapped to tenants. With no keys configured (dev mode only, checked by
 * loadConfig) every caller is the `default` tenant.
 */
import { timingSafeEqual } from 'node:crypto';
import { ProblemError } from './problem.js';

export const DEFAULT_TENANT = 'default';

export type Authenticate = (authorization: string | undefined) => string;
/** The tenant of a presented Authorization header, or undefined when it is not a known key. */
export type Identify = (authorization: string | undefined) => string | undefined;

export function createIdentifier(apiKeys: ReadonlyMap<string, string>): Identify {
  const keys = [...apiKeys].map(([key, tenant]) => ({ key: Buffer.from(key), tenant }));
  return (authorization) => {
    if (keys.length === 0) return DEFAULT_TENANT;
    const match = /^Bearer ([\x21-\x7e]+)$/.exec(authorization ?? '');
    if (!match) return undefined;
    const presented = Buffer.from(match[1]!);
    // Compare against every key in constant time, so timing does not reveal a prefix.
    let tenant: string | undefined;
    for (const candidate of keys) {
      if (candidate.key.length === presented.length && timingSafeEqual(candidate.key, presented)) {
        tenant = candidate.tenant;
      }
    }
    return tenant;
  };
}

export function createAuthenticator(apiKeys: ReadonlyMap<string, string>): Authenticate {
  const identify = createIdentifier(apiKeys);
  return (authorization) => {
    const tenant = identify(authorization);
    if (tenant === undefined) throw new ProblemError(401, 'UNAUTHORIZED');
    return tenant;
  };
}
