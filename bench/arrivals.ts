/**
 * The arrival schedule of a paced run. During the warm-up the rate ramps linearly from a tenth
 * of the target to the target, then holds. Starting a cold stack at the full rate built a
 * backlog it took seconds to work off: a fresh worker (JIT not warm yet) handled its first
 * seconds at about a third of 870 orders/s, 842 messages piled up, and orders of the measured
 * window waited up to 0.8 s behind them. That measured the start-up, not the rate.
 */

/**
 * The most requests a paced run keeps in flight. Latency counts from each arrival's scheduled
 * time, so a cap reached only delays arrivals, and those delays show in the figures.
 */
export const PACED_IN_FLIGHT = 64;

/** Milliseconds from the start of the run at which arrival `slot` (0, 1, 2, ...) is due. */
export function arrivalSchedule(ratePerSecond: number, warmupMs: number): (slot: number) => number {
  const rate = ratePerSecond / 1000; // per ms
  const initialRate = rate / 10;
  if (warmupMs <= 0) return (slot) => slot / rate;
  // Arrivals by time t within the ramp: n(t) = r0 t + (r - r0) t^2 / (2 W).
  const slope = (rate - initialRate) / warmupMs;
  const rampArrivals = initialRate * warmupMs + (slope * warmupMs * warmupMs) / 2;
  return (slot) => {
    if (slot >= rampArrivals) return warmupMs + (slot - rampArrivals) / rate;
    // The positive root of (slope / 2) t^2 + r0 t - slot = 0.
    return (-initialRate + Math.sqrt(initialRate * initialRate + 2 * slope * slot)) / slope;
  };
}
