/**
 * Configuration, parsed once at start from the environment. Nothing else reads `process.env`.
 * A bad value throws a StartupError whose message names the variable and what it accepts.
 */
import { CRASH_POINTS, CRASH_SIGNALS, type CrashSettings } from './crash-points.js';
import { parseDuration } from './duration.js';
import { StartupError } from './errors.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface NatsAuthConfig {
  credsFile?: string;
  user?: string;
  password?: string;
  tlsCaFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

export interface Config {
  /** Servers to connect to; undefined means "`nats-orders dev` starts its own". */
  natsServers: readonly string[] | undefined;
  natsAuth: Readonly<NatsAuthConfig>;
  httpHost: string;
  httpPort: number;
  paymentUrl: string | undefined;
  paymentTimeoutMs: number;
  replicas: number;
  workerConcurrency: number;
  maxDeliver: number;
  backoffMs: readonly number[];
  idempotencyTtlMs: number;
  /** How long a request owns its idempotency key before a retry may take over (crash recovery). */
  idempotencyLeaseMs: number;
  logLevel: LogLevel;
  metricsPort: number | undefined;
  /** API key -> tenant. Empty means auth is off, which only dev mode allows. */
  apiKeys: ReadonlyMap<string, string>;
  adminApiKey: string | undefined;
  /** Gateway requests per second per API key (per address for unknown callers); 0 = off. */
  rateLimitPerSecond: number;
  devMode: boolean;
  /** Where `nats-orders dev` keeps its embedded server's data. */
  dataDir: string;
  /** CRASH_POINT and friends: for fault tests only (see crash-points.ts). */
  crash: CrashSettings | undefined;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];
const DAY_MS = 86_400_000;

function invalid(name: string, value: string, expected: string): never {
  throw new StartupError(`invalid ${name}=${JSON.stringify(value)}: expected ${expected}`);
}

function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    invalid(name, raw, `an integer from ${min} to ${max}`);
  }
  return value;
}

function durationVar(env: Env, name: string, fallback: number, minMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = parseDuration(raw);
  if (value === undefined || value < minMs) {
    invalid(name, raw, `a duration of at least ${minMs} ms such as 500ms, 5s, 2m, 24h`);
  }
  return value;
}

function urlVar(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
  } catch {
    invalid(name, raw, 'an http:// or https:// URL');
  }
  return raw.replace(/\/+$/, '');
}

function parseBackoff(raw: string | undefined): number[] {
  if (raw === undefined || raw === '') return [1_000, 5_000, 30_000, 120_000];
  const steps = raw.split(',').map((part) => parseDuration(part));
  if (steps.length === 0 || steps.some((ms) => ms === undefined || ms < 100)) {
    invalid('BACKOFF', raw, 'comma-separated durations of at least 100ms, such as 1s,5s,30s,2m');
  }
  return steps as number[];
}

function parseNatsServers(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const servers = raw.split(',').map((s) => s.trim());
  for (const server of servers) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$|^[\w.-]+:\d+$/.test(server)) {
      invalid('NATS_URL', raw, 'comma-separated nats://host:port URLs');
    }
  }
  return servers;
}

function parseApiKeys(raw: string | undefined): Map<string, string> {
  const keys = new Map<string, string>();
  if (raw === undefined || raw.trim() === '') return keys;
  for (const pair of raw.split(',')) {
    const match = /^([\x21-\x7e]{16,}):([a-z0-9_-]{1,64})$/.exec(pair.trim());
    if (!match) {
      invalid(
        'API_KEYS',
        '<redacted>',
        'comma-separated key:tenant pairs, keys of 16+ printable characters, tenants of [a-z0-9_-]',
      );
    }
    keys.set(match[1]!, match[2]!);
  }
  return keys;
}

function parseCrash(env: Env): CrashSettings | undefined {
  const point = env.CRASH_POINT;
  if (!point) return undefined;
  if (!(CRASH_POINTS as readonly string[]).includes(point))
    invalid('CRASH_POINT', point, CRASH_POINTS.join('|'));
  const signal = env.CRASH_SIGNAL || 'SIGKILL';
  if (!(CRASH_SIGNALS as readonly string[]).includes(signal))
    invalid('CRASH_SIGNAL', signal, CRASH_SIGNALS.join('|'));
  return Object.freeze({
    point: point as CrashSettings['point'],
    after: intVar(env, 'CRASH_AFTER', 1, 1, 1_000_000),
    signal: signal as CrashSettings['signal'],
  });
}

/**
 * Every environment variable loadConfig reads: deployment files are checked against it
 * (test/unit/compose.unit.test.ts), so a misspelt setting there cannot pass silently.
 */
export const CONFIG_VARIABLES = [
  'NATS_URL',
  'NATS_CREDS',
  'NATS_USER',
  'NATS_PASSWORD',
  'NATS_TLS_CA',
  'NATS_TLS_CERT',
  'NATS_TLS_KEY',
  'HTTP_HOST',
  'HTTP_PORT',
  'PAYMENT_URL',
  'PAYMENT_TIMEOUT_MS',
  'REPLICAS',
  'WORKER_CONCURRENCY',
  'MAX_DELIVER',
  'BACKOFF',
  'IDEMPOTENCY_TTL',
  'IDEMPOTENCY_LEASE',
  'LOG_LEVEL',
  'METRICS_PORT',
  'API_KEYS',
  'ADMIN_API_KEY',
  'RATE_LIMIT_PER_SECOND',
  'DATA_DIR',
  'CRASH_POINT',
  'CRASH_AFTER',
  'CRASH_SIGNAL',
] as const;

export interface LoadConfigOptions {
  /** Set by `nats-orders dev`: the only mode in which auth may be off. */
  devMode?: boolean;
}

export function loadConfig(env: Env = process.env, opts: LoadConfigOptions = {}): Readonly<Config> {
  const devMode = opts.devMode ?? false;
  const logLevel = (env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) invalid('LOG_LEVEL', logLevel, LOG_LEVELS.join('|'));

  const backoffMs = parseBackoff(env.BACKOFF);
  const maxDeliver = intVar(env, 'MAX_DELIVER', 5, 1, 1_000);
  if (maxDeliver <= backoffMs.length) {
    throw new StartupError(
      `invalid MAX_DELIVER=${maxDeliver} with BACKOFF of ${backoffMs.length} steps: ` +
        `the server requires MAX_DELIVER to be greater than the number of BACKOFF steps`,
    );
  }

  const apiKeys = parseApiKeys(env.API_KEYS);

  const metricsPortRaw = env.METRICS_PORT;
  const config: Config = {
    natsServers: parseNatsServers(env.NATS_URL),
    natsAuth: Object.freeze({
      credsFile: env.NATS_CREDS || undefined,
      user: env.NATS_USER || undefined,
      password: env.NATS_PASSWORD || undefined,
      tlsCaFile: env.NATS_TLS_CA || undefined,
      tlsCertFile: env.NATS_TLS_CERT || undefined,
      tlsKeyFile: env.NATS_TLS_KEY || undefined,
    }),
    httpHost: env.HTTP_HOST || '127.0.0.1',
    httpPort: intVar(env, 'HTTP_PORT', 3000, 0, 65_535),
    paymentUrl: urlVar(env, 'PAYMENT_URL'),
    paymentTimeoutMs: durationVar(env, 'PAYMENT_TIMEOUT_MS', 5_000, 10),
    replicas: intVar(env, 'REPLICAS', 1, 1, 5),
    workerConcurrency: intVar(env, 'WORKER_CONCURRENCY', 16, 1, 1_024),
    maxDeliver,
    backoffMs: Object.freeze(backoffMs),
    idempotencyTtlMs: durationVar(env, 'IDEMPOTENCY_TTL', DAY_MS, DAY_MS),
    idempotencyLeaseMs: durationVar(env, 'IDEMPOTENCY_LEASE', 10_000, 100),
    logLevel,
    metricsPort:
      metricsPortRaw === undefined || metricsPortRaw === ''
        ? undefined
        : intVar(env, 'METRICS_PORT', 0, 0, 65_535),
    apiKeys,
    adminApiKey: env.ADMIN_API_KEY || undefined,
    rateLimitPerSecond: intVar(env, 'RATE_LIMIT_PER_SECOND', 100, 0, 1_000_000),
    devMode,
    dataDir: env.DATA_DIR || '.data',
    crash: parseCrash(env),
  };
  if ((config.natsAuth.user === undefined) !== (config.natsAuth.password === undefined)) {
    throw new StartupError('NATS_USER and NATS_PASSWORD must be set together');
  }
  if ((config.natsAuth.tlsCertFile === undefined) !== (config.natsAuth.tlsKeyFile === undefined)) {
    throw new StartupError('NATS_TLS_CERT and NATS_TLS_KEY must be set together');
  }
  return Object.freeze(config);
}
