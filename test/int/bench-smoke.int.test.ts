/**
 * The bench still works (CI smoke): a few seconds of tiny load through the whole system as
 * separate processes, then the ceiling. Checks the report's shape and that orders flowed;
 * speed is measured by `npm run bench`, never asserted here.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BENCH = fileURLToPath(new URL('../../bench/run.mts', import.meta.url));

describe('npm run bench -- --smoke', () => {
  it('runs the stack, the load, the drain and the ceiling, and reports every figure', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', BENCH, '--smoke'],
      { timeout: 180_000, maxBuffer: 10 * 1024 * 1024 },
    );
    const report = JSON.parse(stdout.slice(0, stdout.indexOf('\n\n| scenario'))) as Record<
      string,
      any
    >;
    expect(report.accepted).toBeGreaterThan(0);
    expect(report.errors).toBe(0);
    // The bench audits its own run (bench/audit.ts throws on a violation); the report says so.
    expect(report.invariantViolations).toBe(0);
    for (const key of ['acceptedPerSecond', 'sustainedEndToEndPerSecond', 'ceilingPerSecond'])
      expect(report[key], key).toBeGreaterThan(0);
    expect(report.fractionOfCeiling).toBeGreaterThan(0);
    expect(Object.keys(report.postMs)).toEqual(['p50', 'p90', 'p99', 'max']);
    expect(Object.keys(report.endToEndMs)).toEqual(['p50', 'p99']);
    expect(report.resources.map((r: { process: string }) => r.process)).toEqual([
      'payments-stub',
      'relay',
      'worker-1',
      'gateway',
      'nats-server n1',
      'load generator',
    ]);
    for (const r of report.resources) {
      // Ready but waiting for a core, per second on one: 0 when nothing competed.
      expect(r.runQueueWaitPerCpuSecond, r.process).toBeGreaterThanOrEqual(0);
    }
    expect(stdout).toContain('| R1, c=4, 1 worker(s) |');
    expect(stdout).toContain('| CPU s per 1,000 orders / peak RSS MB / run-queue wait per CPU s |');
    // Six processes start on two cores while other suites run: seen taking over 60 s in CI.
  }, 180_000);
});

describe('npm run bench -- --cost-growth --smoke', () => {
  it('fills the buckets, times the start-ups and measures every phase at each size', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', BENCH, '--cost-growth', '--smoke'],
      { timeout: 240_000, maxBuffer: 10 * 1024 * 1024 },
    );
    const { costGrowth: rows } = JSON.parse(
      stdout.slice(0, stdout.indexOf('\n\n| stored orders')),
    ) as { costGrowth: Array<Record<string, any>> };
    expect(rows.map((r) => r.storedOrders)).toEqual([200, 400]);
    for (const row of rows) {
      for (const key of ['relayStartMs', 'workerStartMs', 'cliBootMs'])
        expect(row[key], key).toBeGreaterThan(0);
      expect(row.startSamplesMs.relay).toHaveLength(3);
      expect(row.startSamplesMs.worker).toHaveLength(3);
      for (const loop of [row.closedLoop, row.paced]) {
        expect(loop.postPerSecond).toBeGreaterThan(0);
        expect(loop.getPerSecond).toBeGreaterThan(0);
        for (const ms of [loop.postMs, loop.getMs]) {
          expect(ms.p50).toBeGreaterThan(0);
          expect(ms.p99).toBeGreaterThan(0);
        }
      }
      // The paced phases go at half of the first size's closed loop, the same at every size.
      expect(row.paced.postPerSecond).toBeLessThan(rows[0]!.closedLoop.postPerSecond);
      expect(row.bucketsMb.orders).toBeGreaterThan(0);
    }
    expect(stdout).toMatch(/^\| 400 \| /m);
  }, 240_000);
});

describe('npm run bench:wakeup-cost', () => {
  it('prints the CPU per message of each side at every rate', async () => {
    const script = fileURLToPath(new URL('../../bench/wakeup-cost.mts', import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', script, '--seconds', '0.2'],
      { timeout: 60_000 },
    );
    const rows = stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/).map(Number));
    expect(rows.map((row) => row[0])).toEqual([250, 1_000, 4_000, 16_000]);
    for (const row of rows) {
      expect(row).toHaveLength(4);
      for (const value of row) expect(value).toBeGreaterThanOrEqual(0);
    }
  }, 90_000);
});

describe('npm run bench: its command line', () => {
  const bench = (...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', BENCH, ...args], {
      timeout: 60_000,
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );

  it('lists its options on --help, and starts nothing', async () => {
    const { code, stdout, stderr } = await bench('--help');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    expect(stdout.split('\n')[0]).toBe('usage: npm run bench -- [options]');
    for (const option of ['--concurrency', '--half-max', '--all', '--cost-growth', '--smoke'])
      expect(stdout).toContain(`  ${option} `);
  });

  it('refuses an unknown option or a bad value in one line, with exit code 2', async () => {
    const unknown = await bench('--concurency', '8');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toMatch(/^bench: Unknown option '--concurency'/);
    expect(unknown.stderr).toContain('usage: npm run bench -- [options]');
    expect(unknown.stderr).not.toContain('    at ');

    const missing = await bench('--rate');
    expect(missing.code).toBe(2);
    expect(missing.stderr.split('\n')[0]).toMatch(
      /^bench: Option '--rate <value>' argument missing/,
    );

    const badValue = await bench('--size', '2');
    expect(badValue).toMatchObject({ code: 2, stderr: 'bench: --size must be 1 or 3 (got "2")\n' });
  });
});
