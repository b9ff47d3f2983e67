/**
 * The bench's system under test, as in production: one process per component (through tsx,
 * like the tests), with their CPU time, peak RSS and run-queue wait read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface BenchProcess {
  name: string;
  pid: number;
  /** user + system CPU seconds so far. */
  cpuSeconds(): number;
  /** Peak resident set (VmHWM), in MB. */
  peakRssMb(): number;
  /** Seconds its threads ran, and waited ready to run for a core, so far (procSchedSeconds). */
  schedSeconds(): SchedSeconds;
  /** The last 20,000 characters it logged (components log at warn in the bench). */
  output(): string;
  stop(): Promise<void>;
}

export function procCpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

export interface SchedSeconds {
  run: number;
  wait: number;
}

/**
 * Summed over the process's threads, from /proc/<pid>/task/<tid>/schedstat (nanoseconds on the
 * CPU, then waiting on a run queue): how long it was ready to run but had no core. Zero where the
 * kernel does not keep schedstats.
 */
export function procSchedSeconds(pid: number): SchedSeconds {
  const total = { run: 0, wait: 0 };
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
        total.run += Number(run) / 1e9;
        total.wait += Number(wait) / 1e9;
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // no such process (any more), or no /proc
  }
  return total;
}

export function procPeakRssMb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export function wrapProcess(
  name: string,
  child: ChildProcess,
  output: () => string = () => '',
): BenchProcess {
  const pid = child.pid!;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    pid,
    cpuSeconds: () => procCpuSeconds(pid),
    peakRssMb: () => procPeakRssMb(pid),
    schedSeconds: () => procSchedSeconds(pid),
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Milliseconds from spawning `nats-orders --version` to its exit: starting Node and loading all
 * of the code (the CLI imports every component), without NATS. Set against a component's
 * start-up, it tells the machine's share from the component's.
 */
export async function cliBootMs(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, '--version'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => child.once('exit', resolve).once('error', reject));
  return Math.round(performance.now() - started);
}

/**
 * Starts `nats-orders <args>` and resolves once `readyUrl` answers 2xx (a health endpoint:
 * the bench runs components at LOG_LEVEL=warn, so there is no log line to wait for).
 */
export async function startCli(
  name: string,
  args: string[],
  env: Record<string, string>,
  readyUrl: string,
  nodeArgs: readonly string[] = [],
): Promise<BenchProcess> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', CLI, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}):\n${output}`);
    const ok = await fetch(readyUrl).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return wrapProcess(name, child, () => output);
    // Often: start-up time is measured through this wait (bench/cost-growth.ts).
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} not ready after 60 s:\n${output}`);
}
