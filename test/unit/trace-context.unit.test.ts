/**
 * W3C traceparent handling: what the gateway accepts from a client, and the traces it starts
 * (cut from a pool of random bytes refilled every 256 traces).
 */
import { describe, expect, it } from 'vitest';
import { newTraceparent, parseTraceparent, traceIdOf } from '../../src/shared/trace-context.js';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('parseTraceparent', () => {
  it('keeps a valid header, lower-cased and trimmed', () => {
    expect(parseTraceparent(VALID)).toBe(VALID);
    expect(parseTraceparent(` ${VALID.toUpperCase()} `)).toBe(VALID);
  });

  it('drops what is not a version-00 traceparent with non-zero ids', () => {
    for (const bad of [
      undefined,
      [VALID, VALID],
      '',
      '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });
});

describe('newTraceparent', () => {
  it('starts valid, sampled, distinct traces across several refills of its pool', () => {
    const traces = Array.from({ length: 1_000 }, newTraceparent);
    for (const trace of traces) {
      expect(parseTraceparent(trace)).toBe(trace);
      expect(trace.endsWith('-01')).toBe(true);
    }
    expect(new Set(traces).size).toBe(traces.length);
    expect(new Set(traces.map((t) => traceIdOf(t))).size).toBe(traces.length);
    expect(new Set(traces.map((t) => t.slice(36, 52))).size).toBe(traces.length);
  });
});
