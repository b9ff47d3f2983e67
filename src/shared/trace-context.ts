/**
 * W3C trace context (https://www.w3.org/TR/trace-context/), the `traceparent` header alone:
 * accepted on HTTP and NATS requests, or started at the gateway, stored with the order and
 * sent on every event the order produces, so one order's path can be followed across
 * processes and into any OpenTelemetry-aware tool downstream.
 */
import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ALL_ZERO = /^0+$/;

/** The header if it is a valid version-00 traceparent (ids not all zero), else undefined. */
export function parseTraceparent(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!match || ALL_ZERO.test(match[1]!) || ALL_ZERO.test(match[2]!)) return undefined;
  return match[0];
}

/** A new sampled trace, for a request that arrived without one. */
export function newTraceparent(): string {
  return `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
}

/** The trace id of a valid traceparent: the field logs carry. */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent ? TRACEPARENT.exec(traceparent)?.[1] : undefined;
}
