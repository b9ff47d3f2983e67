/**
 * The sweep's chart as a standalone SVG: sustained end-to-end orders/s (left) and POST p99
 * (right) against concurrency, one line per scenario family, concurrency on a log scale.
 */
import { familyLabel } from './report.js';
import type { ThroughputReport } from './throughput.js';

const WIDTH = 960;
const HEIGHT = 420;
const PANEL = { width: 400, height: 280, top: 60, left: [70, 550] };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

const round = (v: number) => Math.round(v * 10) / 10;
const escape = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** A tidy upper bound for an axis: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(value, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value)!;
}

function panel(
  reports: readonly ThroughputReport[],
  left: number,
  title: string,
  value: (r: ThroughputReport) => number,
  families: string[],
): string {
  const { width, height, top } = PANEL;
  const concurrencies = [...new Set(reports.map((r) => r.settings.concurrency))].sort(
    (a, b) => a - b,
  );
  const [cMin, cMax] = [concurrencies[0]!, concurrencies.at(-1)!];
  const x = (c: number) =>
    left +
    (cMax === cMin ? width / 2 : ((Math.log(c) - Math.log(cMin)) / Math.log(cMax / cMin)) * width);
  const yMax = niceMax(Math.max(...reports.map(value)));
  const y = (v: number) => top + height - (v / yMax) * height;
  const parts = [
    `<text x="${left + width / 2}" y="${top - 16}" text-anchor="middle" font-weight="bold">${escape(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${width}" height="${height}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(
      `<line x1="${left}" x2="${left + width}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Number(v.toPrecision(3))}</text>`,
    );
  }
  for (const c of concurrencies)
    parts.push(
      `<text x="${round(x(c))}" y="${top + height + 18}" text-anchor="middle">${c}</text>`,
    );
  parts.push(
    `<text x="${left + width / 2}" y="${top + height + 38}" text-anchor="middle">concurrency (closed-loop clients)</text>`,
  );
  families.forEach((family, i) => {
    const points = reports
      .filter((r) => familyLabel(r.settings) === family)
      .sort((a, b) => a.settings.concurrency - b.settings.concurrency)
      .map((r) => [round(x(r.settings.concurrency)), round(y(value(r)))] as const);
    const colour = COLOURS[i % COLOURS.length]!;
    parts.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.map((p) => p.join(',')).join(' ')}"/>`,
      ...points.map(([px, py]) => `<circle cx="${px}" cy="${py}" r="3.5" fill="${colour}"/>`),
    );
  });
  return parts.join('\n');
}

export function sweepChart(reports: readonly ThroughputReport[], subtitle: string): string {
  const families = [...new Set(reports.map((r) => familyLabel(r.settings)))];
  const legend = families
    .map((family, i) => {
      const lx = 70 + (i % 3) * 300;
      const ly = HEIGHT - 8 + Math.floor(i / 3) * 16;
      return `<rect x="${lx}" y="${ly - 9}" width="14" height="4" fill="${COLOURS[i % COLOURS.length]}"/><text x="${lx + 20}" y="${ly - 4}">${escape(family)}</text>`;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT + 16 * Math.ceil(families.length / 3)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escape(`nats-orders bench: ${subtitle}`)}</text>`,
    panel(
      reports,
      PANEL.left[0]!,
      'sustained end-to-end orders/s',
      (r) => r.sustainedEndToEndPerSecond,
      families,
    ),
    panel(reports, PANEL.left[1]!, 'POST p99 (ms)', (r) => r.postMs.p99, families),
    legend,
    '</svg>',
    '',
  ].join('\n');
}
