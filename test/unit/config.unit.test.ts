import { describe, expect, it } from 'vitest';
import {
  CONFIG_VARIABLES,
  StartupError,
  loadConfig,
  parseDuration,
} from '../../src/shared/index.js';

const fails = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(StartupError);
    return (err as Error).message;
  }
};

describe('loadConfig', () => {
  it('has production defaults and returns a frozen object', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      httpPort: 3000,
      replicas: 1,
      maxDeliver: 5,
      backoffMs: [1_000, 5_000, 30_000, 120_000],
      idempotencyTtlMs: 86_400_000,
      paymentTimeoutMs: 5_000,
      natsServers: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses lists, durations and key:tenant pairs', () => {
    const config = loadConfig({
      NATS_URL: 'nats://a:4222,nats://b:4222',
      BACKOFF: '250ms,2s,1m',
      MAX_DELIVER: '4',
      IDEMPOTENCY_TTL: '48h',
      API_KEYS: 'k1-0123456789abcdef:acme,k2-0123456789abcdef:globex',
    });
    expect(config.natsServers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(config.backoffMs).toEqual([250, 2_000, 60_000]);
    expect(config.idempotencyTtlMs).toBe(172_800_000);
    expect([...config.apiKeys.values()]).toEqual(['acme', 'globex']);
  });

  it('stops with one message naming the variable for every bad value', () => {
    expect(fails({ HTTP_PORT: 'eighty' })).toBe(
      'invalid HTTP_PORT="eighty": expected an integer from 0 to 65535',
    );
    expect(fails({ REPLICAS: '0' })).toMatch(/^invalid REPLICAS="0"/);
    expect(fails({ BACKOFF: '1s,soon' })).toMatch(/^invalid BACKOFF="1s,soon"/);
    expect(fails({ MAX_DELIVER: '3', BACKOFF: '1s,2s,3s' })).toMatch(
      /MAX_DELIVER to be greater than the number of BACKOFF steps/,
    );
    expect(fails({ IDEMPOTENCY_TTL: '1h' })).toMatch(/^invalid IDEMPOTENCY_TTL="1h"/);
    expect(fails({ PAYMENT_URL: 'ftp://x' })).toMatch(/^invalid PAYMENT_URL/);
    expect(fails({ LOG_LEVEL: 'loud' })).toMatch(/^invalid LOG_LEVEL/);
    expect(fails({ NATS_URL: 'not a url' })).toMatch(/^invalid NATS_URL/);
    // Keys are secrets: the message never echoes them.
    expect(fails({ API_KEYS: 'short:acme' })).toMatch(/^invalid API_KEYS="<redacted>"/);
    expect(fails({ NATS_USER: 'u' })).toBe('NATS_USER and NATS_PASSWORD must be set together');
    expect(fails({ IDEMPOTENCY_LEASE: '10ms' })).toMatch(/^invalid IDEMPOTENCY_LEASE="10ms"/);
    expect(fails({ CRASH_POINT: 'worker.somewhere' })).toMatch(
      /^invalid CRASH_POINT="worker.somewhere": expected worker.after-processing\|/,
    );
    expect(fails({ CRASH_POINT: 'relay.after-publish', CRASH_SIGNAL: 'SIGHUP' })).toMatch(
      /^invalid CRASH_SIGNAL="SIGHUP"/,
    );
  });

  it('reads crash points (fault tests) only when asked', () => {
    expect(loadConfig({}).crash).toBeUndefined();
    expect(loadConfig({}).idempotencyLeaseMs).toBe(10_000);
    expect(loadConfig({ CRASH_POINT: 'worker.after-payment', CRASH_AFTER: '7' }).crash).toEqual({
      point: 'worker.after-payment',
      after: 7,
      signal: 'SIGKILL',
    });
  });

  it('parses durations', () => {
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('-1s')).toBeUndefined();
    expect(parseDuration('5 minutes')).toBeUndefined();
  });
});

describe('CONFIG_VARIABLES', () => {
  it('names every environment variable loadConfig reads (deployment files are checked against it)', () => {
    const read = new Set<string>();
    // Set the variables that open conditional branches, so those reads are seen too.
    const values: Record<string, string> = {
      CRASH_POINT: 'worker.after-payment',
      METRICS_PORT: '9464',
      NATS_USER: 'u',
      NATS_PASSWORD: 'p',
    };
    const env = new Proxy(values, {
      get: (target, name: string) => {
        read.add(name);
        return target[name];
      },
    });
    loadConfig(env);
    expect(
      [...read].filter((name) => !(CONFIG_VARIABLES as readonly string[]).includes(name)),
    ).toEqual([]);
    expect([...CONFIG_VARIABLES].filter((name) => !read.has(name))).toEqual([]);
  });
});
