/** The bench's sweep chart and result names (bench/chart.ts, bench/report.ts). */
import { describe, expect, it } from 'vitest';
import { sweepChart } from '../../bench/chart.js';
import { scenarioLabel, scenarioSlug, type Settings } from '../../bench/report.js';
import type { ThroughputReport } from '../../bench/throughput.js';

const settings = (over: Partial<Settings>): ThroughputReport['settings'] => ({
  concurrency: 8,
  durationSeconds: 15,
  warmupSeconds: 3,
  workers: 1,
  size: 1,
  syncAlways: false,
  paymentLatencyMs: 2,
  ...over,
});
const report = (over: Partial<Settings>, perSecond: number, p99: number) =>
  ({
    settings: settings(over),
    sustainedEndToEndPerSecond: perSecond,
    postMs: { p50: 1, p90: 2, p99, max: 3 },
  }) as ThroughputReport;

describe('bench results', () => {
  it('draws one line per scenario family in each panel, concurrency on a log scale', () => {
    const svg = sweepChart(
      [
        report({ concurrency: 8 }, 600, 20),
        report({ concurrency: 32 }, 900, 60),
        report({ concurrency: 128 }, 1000, 170),
        report({ concurrency: 8, size: 3, syncAlways: true }, 300, 30),
        report({ concurrency: 128, size: 3, syncAlways: true }, 500, 400),
      ],
      '2 cores',
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(4);
    expect(svg.match(/<circle/g)).toHaveLength(10);
    expect(svg).toContain('R1, 1 worker(s)');
    expect(svg).toContain('R3 sync always, 1 worker(s)');
    // 8, 32, 128 on a log scale: 32 sits halfway across the 400-px panel that starts at x=70.
    expect(svg).toContain('<text x="270" y="358" text-anchor="middle">32</text>');
    // The throughput axis tops out at a round 1000 above the highest point.
    expect(svg).toContain('>1000</text>');
  });

  it('names scenarios for tables and files', () => {
    expect(scenarioLabel(settings({ size: 3, syncAlways: true, concurrency: 32 }))).toBe(
      'R3 sync always, c=32, 1 worker(s)',
    );
    expect(scenarioLabel(settings({ ratePerSecond: 500, workers: 2 }))).toBe(
      'R1, paced 500/s, 2 worker(s)',
    );
    expect(scenarioSlug(settings({ size: 3, syncAlways: true, concurrency: 32 }))).toBe(
      'r3-sync-c32-w1',
    );
    expect(scenarioSlug(settings({ ratePerSecond: 500, workers: 2 }))).toBe('r1-rate500-w2');
  });
});
