/**
 * The alert rules, checked and unit-tested by promtool (Debian's `prometheus` package; .ci/run
 * installs it): every alert fires on its test series and stays quiet on the benign ones, and
 * every alert has a runbook section.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const promtool = (...args: string[]) =>
  execFileSync('promtool', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });

interface Rule {
  alert: string;
  annotations: Record<string, string>;
}

const rules = (
  parse(readFileSync(`${dir}/alerts.yml`, 'utf8')) as { groups: Array<{ rules: Rule[] }> }
).groups.flatMap((g) => g.rules);

describe('alert rules', () => {
  it('pass promtool check (rules and the Prometheus config that loads them)', () => {
    expect(promtool('check', 'rules', 'alerts.yml')).toContain('SUCCESS: 8 rules found');
    expect(promtool('check', 'config', 'prometheus.yml')).toContain('SUCCESS');
  });

  it('pass their promtool unit tests', () => {
    expect(promtool('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });

  it('are each tested firing and not firing, and each have a runbook section', () => {
    const tests = readFileSync(`${dir}/alerts.test.yml`, 'utf8');
    const runbook = readFileSync(
      fileURLToPath(new URL('../../docs/runbook.md', import.meta.url)),
      'utf8',
    );
    expect(rules.map((r) => r.alert)).toHaveLength(8);
    for (const rule of rules) {
      const cases = [
        ...tests.matchAll(new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:(.*)`, 'g')),
      ];
      expect(
        cases.some((c) => c[1]!.trim() === '[]'),
        `${rule.alert} quiet case`,
      ).toBe(true);
      expect(
        cases.some((c) => c[1]!.trim() === ''),
        `${rule.alert} firing case`,
      ).toBe(true);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
      expect(rule.annotations.description, rule.alert).toBeTruthy();
      expect(rule.annotations.runbook).toBe(`docs/runbook.md#${rule.alert.toLowerCase()}`);
      expect(runbook).toContain(`## ${rule.alert}\n`);
    }
  });
});
