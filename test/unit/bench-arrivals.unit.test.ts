/** The paced bench's arrival schedule (bench/arrivals.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrivalSchedule } from '../../bench/arrivals.js';

/** Arrivals due in [from, to) ms. */
function arrivalsBetween(dueAt: (slot: number) => number, from: number, to: number): number {
  let count = 0;
  for (let slot = 0; dueAt(slot) < to; slot++) if (dueAt(slot) >= from) count++;
  return count;
}

describe('arrivalSchedule', () => {
  it('holds the target rate after the warm-up', () => {
    const dueAt = arrivalSchedule(800, 3_000);
    // 800/s: 4,000 arrivals in any 5 s after the ramp, give or take the one on the boundary.
    expect(Math.abs(arrivalsBetween(dueAt, 3_000, 8_000) - 4_000)).toBeLessThanOrEqual(1);
    expect(Math.abs(arrivalsBetween(dueAt, 10_000, 15_000) - 4_000)).toBeLessThanOrEqual(1);
  });

  it('ramps from a tenth of the rate to the rate during the warm-up', () => {
    const dueAt = arrivalSchedule(1_000, 4_000);
    // Linear ramp 100/s -> 1,000/s: 0.2 s windows at the start, middle and end of it.
    expect(arrivalsBetween(dueAt, 0, 200)).toBeGreaterThanOrEqual(20);
    expect(arrivalsBetween(dueAt, 0, 200)).toBeLessThanOrEqual(30);
    expect(arrivalsBetween(dueAt, 1_900, 2_100)).toBeGreaterThanOrEqual(105);
    expect(arrivalsBetween(dueAt, 1_900, 2_100)).toBeLessThanOrEqual(115);
    expect(arrivalsBetween(dueAt, 3_800, 4_000)).toBeGreaterThanOrEqual(190);
    // (100 + 1,000) / 2 * 4 s in the whole ramp.
    expect(Math.abs(arrivalsBetween(dueAt, 0, 4_000) - 2_200)).toBeLessThanOrEqual(1);
  });

  it('is increasing and continuous at the end of the ramp, for any rate and warm-up', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 0, max: 30_000 }),
        fc.nat({ max: 200_000 }),
        (rate, warmupMs, slot) => {
          const dueAt = arrivalSchedule(rate, warmupMs);
          expect(dueAt(0)).toBe(0);
          expect(dueAt(slot + 1)).toBeGreaterThan(dueAt(slot));
          // No arrival is ever closer to the previous one than the target rate allows.
          expect(dueAt(slot + 1) - dueAt(slot)).toBeGreaterThanOrEqual(1000 / rate - 1e-6);
        },
      ),
    );
  });

  it('is the plain fixed rate without a warm-up', () => {
    const dueAt = arrivalSchedule(500, 0);
    expect(dueAt(0)).toBe(0);
    expect(dueAt(500)).toBeCloseTo(1_000);
  });
});
