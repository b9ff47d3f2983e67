/**
 * One throughput scenario: a fresh stack, closed-loop HTTP load after a warm-up, a drain until
 * every accepted order is COMPLETED, an audit of the run, then the ceiling (the same durable
 * JetStream work without HTTP, XState or payment) on the same server.
 */
import { auditRun } from './audit.js';
import { measureCeiling } from './ceiling.js';
import { runLoad } from './load.js';
import { milliseconds, type Settings } from './report.js';
import { procSchedSeconds, type SchedSeconds } from './processes.js';
import { startBenchStack, PAYMENT_LATENCY_MS } from './stack.js';

/** Ceiling runs per scenario; the best counts. */
const CEILING_RUNS = 3;

/** Run-queue wait per second on a core between two readings, to two decimals (0 if it never ran). */
function waitPerRun(before: SchedSeconds, after: SchedSeconds): number {
  const run = after.run - before.run;
  return run > 0 ? Math.round(((after.wait - before.wait) / run) * 100) / 100 : 0;
}

export interface ThroughputReport {
  settings: Settings & { paymentLatencyMs: number };
  acceptedPerSecond: number;
  sustainedEndToEndPerSecond: number;
  /** The best of the ceiling runs. */
  ceilingPerSecond: number;
  ceilingRunsPerSecond: number[];
  fractionOfCeiling: number;
  /** Compare-and-set conflicts the ceiling run met (retried publishes under leader changes). */
  ceilingConflicts: number;
  accepted: number;
  errors: number;
  loadSeconds: number;
  drainSeconds: number;
  postMs: { p50: number; p90: number; p99: number; max: number };
  endToEndMs: { p50: number; p99: number };
  invariantViolations: number;
  resources: Array<{
    process: string;
    cpuSecondsPer1000Orders: number;
    peakRssMb: number;
    /** Seconds its threads waited, ready, for a core per second they ran: CPU contention. */
    runQueueWaitPerCpuSecond: number;
  }>;
}

export async function runThroughput(
  settings: Settings,
  opts: { smoke: boolean; profileDir?: string; log: (line: string) => void },
): Promise<ThroughputReport> {
  const stack = await startBenchStack({
    size: settings.size,
    syncAlways: settings.syncAlways,
    ...(opts.profileDir ? { profileDir: opts.profileDir } : {}),
  });
  try {
    opts.log(`bench: ${JSON.stringify(settings)}`);
    await stack.startPaymentStub();
    if (settings.combined) {
      await stack.startAllInOne();
    } else {
      await stack.startRelay();
      for (let i = 0; i < settings.workers; i++) await stack.startWorker(`worker-${i + 1}`);
      await stack.startGateway();
    }

    // The bench process itself shares the 2 cores: its load generator (undici, the arrival
    // schedule, the completed-event subscription) is counted too, so the columns add up.
    const loadGenerator = {
      name: 'load generator',
      cpuSeconds: () => {
        const { user, system } = process.cpuUsage();
        return (user + system) / 1e6;
      },
      peakRssMb: () => process.resourceUsage().maxRSS / 1024,
      schedSeconds: () => procSchedSeconds(process.pid),
    };
    const measured = [...stack.processes, ...stack.servers, loadGenerator];
    // CPU is counted from the end of the warm-up, like the orders it is divided by.
    let cpuBefore = measured.map((p) => p.cpuSeconds());
    let schedBefore = measured.map((p) => p.schedSeconds());
    const result = await runLoad({
      gatewayUrl: stack.gatewayUrl,
      nc: stack.nc,
      concurrency: settings.concurrency,
      ...(settings.ratePerSecond ? { ratePerSecond: settings.ratePerSecond } : {}),
      warmupSeconds: settings.warmupSeconds,
      durationSeconds: settings.durationSeconds,
      drainTimeoutSeconds: 120,
      progress: opts.log,
      onMeasuring: () => {
        cpuBefore = measured.map((p) => p.cpuSeconds());
        schedBefore = measured.map((p) => p.schedSeconds());
      },
    });
    // Up to the end of the drain: the audit below reads whole streams and is not order work.
    const cpuAfter = measured.map((p) => p.cpuSeconds());
    const schedAfter = measured.map((p) => p.schedSeconds());
    const invariantViolations = await auditRun(stack.nc, stack.paymentUrl, result).catch(
      (err: unknown) => {
        // What the components logged (warnings and errors) is the next thing to look at.
        for (const p of stack.processes)
          opts.log(`--- ${p.name} log tail:\n${p.output().slice(-3000)}`);
        throw err;
      },
    );
    const perThousand = (cpu: number) =>
      Math.round((cpu / Math.max(1, result.accepted)) * 1000 * 100) / 100;
    const resources = measured.map((p, i) => ({
      process: p.name,
      cpuSecondsPer1000Orders: perThousand(cpuAfter[i]! - cpuBefore[i]!),
      peakRssMb: Math.round(p.peakRssMb()),
      runQueueWaitPerCpuSecond: waitPerRun(schedBefore[i]!, schedAfter[i]!),
    }));

    // One ceiling run on this shared VM varied from 2,261 to 3,012 orders/s on the same commit:
    // the best of several is what the hardware allows, and the fraction is taken of that.
    const ceilingRuns: Array<Awaited<ReturnType<typeof measureCeiling>>> = [];
    for (let run = 1; run <= (opts.smoke ? 1 : CEILING_RUNS); run++) {
      opts.log(`bench: measuring the ceiling on the same server (run ${run}) ...`);
      ceilingRuns.push(
        await measureCeiling(stack.nc, {
          orders: opts.smoke ? 200 : Math.min(12_000, Math.max(2_000, result.accepted)),
          inFlight: 256,
          replicas: settings.size,
        }),
      );
    }
    const ceiling = {
      ordersPerSecond: Math.max(...ceilingRuns.map((c) => c.ordersPerSecond)),
      conflicts: ceilingRuns.reduce((sum, c) => sum + c.conflicts, 0),
    };
    const sustained = result.accepted / (result.loadSeconds + result.drainSeconds);
    return {
      settings: { ...settings, paymentLatencyMs: PAYMENT_LATENCY_MS },
      acceptedPerSecond: Math.round(result.accepted / result.loadSeconds),
      sustainedEndToEndPerSecond: Math.round(sustained),
      ceilingPerSecond: Math.round(ceiling.ordersPerSecond),
      ceilingRunsPerSecond: ceilingRuns.map((c) => Math.round(c.ordersPerSecond)),
      fractionOfCeiling: Math.round((sustained / ceiling.ordersPerSecond) * 1000) / 1000,
      ceilingConflicts: ceiling.conflicts,
      accepted: result.accepted,
      errors: result.errors,
      loadSeconds: Math.round(result.loadSeconds * 10) / 10,
      drainSeconds: Math.round(result.drainSeconds * 100) / 100,
      postMs: {
        p50: milliseconds(result.post.getValueAtPercentile(50)),
        p90: milliseconds(result.post.getValueAtPercentile(90)),
        p99: milliseconds(result.post.getValueAtPercentile(99)),
        max: milliseconds(result.post.maxValue),
      },
      endToEndMs: {
        p50: milliseconds(result.endToEnd.getValueAtPercentile(50)),
        p99: milliseconds(result.endToEnd.getValueAtPercentile(99)),
      },
      invariantViolations,
      resources,
    };
  } finally {
    await stack.stop();
  }
}
