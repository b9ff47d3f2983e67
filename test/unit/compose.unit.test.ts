/**
 * docker-compose.yml cannot run on the development machines (no Docker engine), so it is kept
 * correct by construction: every service's command, options, environment and ports must agree
 * with the CLI, the configuration schema, the NATS configuration and Prometheus'.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CONFIG_VARIABLES,
  PINNED_NATS_SERVER_VERSION,
  loadConfig,
} from '../../src/shared/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');
interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}
const compose = parse(read('docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = Object.entries(compose.services);
const appServices = services.filter(([, s]) => s.image === 'nats-orders:local');
const natsServices = services.filter(([, s]) => s.image?.startsWith('nats:'));

/** `${VAR:?message}` as compose would fill it from .env (deploy/make-dev-secrets.sh). */
function substitute(value: string): string {
  return value.replace(/\$\{([A-Z_]+)(:\?[^}]*)?\}/g, (_, name: string) =>
    name === 'API_KEYS' ? 'pdevelopment0123456789:acme' : `pdev${name.toLowerCase()}0123`,
  );
}

const cliHelp = new Map<string, string>();
function helpOf(command: string): string {
  if (!cliHelp.has(command)) {
    const cli = `${root}src/cli.ts`;
    const args = command === '' ? ['--help'] : [command, '--help'];
    cliHelp.set(
      command,
      execFileSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8' }),
    );
  }
  return cliHelp.get(command)!;
}

describe('docker-compose.yml', () => {
  it('runs three nodes of the pinned nats-server with the shipped cluster configuration', () => {
    expect(natsServices.map(([name]) => name)).toEqual(['nats-1', 'nats-2', 'nats-3']);
    // Every variable the NATS configuration reads is set on every node.
    const conf = read('deploy/nats/cluster.conf') + read('deploy/nats/users.conf');
    const wanted = new Set(
      // variables outside comments and quoted subjects ("$JS.API...", "$KV...")
      [
        ...conf
          .replace(/#.*$/gm, '')
          .replace(/"[^"]*"/g, '')
          .matchAll(/\$([A-Z][A-Z_0-9]*)/g),
      ].map((m) => m[1]!),
    );
    for (const [name, node] of natsServices) {
      expect(node.image).toBe(`nats:${PINNED_NATS_SERVER_VERSION.slice(1)}-alpine`);
      expect(node.command).toEqual(['-c', '/etc/nats/cluster.conf']);
      expect(node.environment!.SERVER_NAME).toBe(name);
      expect(
        Object.keys(node.environment!)
          .filter((v) => wanted.has(v))
          .sort(),
      ).toEqual([...wanted].sort());
      const routes = ['ROUTE_1', 'ROUTE_2', 'ROUTE_3'].map((r) => node.environment![r]);
      expect(routes).toEqual(
        natsServices.map(([n]) => `nats-route://${n}:${node.environment!.CLUSTER_PORT}`),
      );
      expect(node.volumes).toContain('./deploy/nats/cluster.conf:/etc/nats/cluster.conf:ro');
      expect(node.volumes).toContain('./deploy/nats/users.conf:/etc/nats/users.conf:ro');
      expect(node.healthcheck!.test.join(' ')).toContain(`:${node.environment!.MONITOR_PORT}/`);
    }
  });

  it('starts each component with a command and options the CLI has', () => {
    const commands = appServices.map(([, s]) => s.command![0]!);
    expect(new Set(commands)).toEqual(
      new Set(['provision', 'payments-stub', 'relay', 'worker', 'gateway']),
    );
    for (const [name, service] of appServices) {
      const [command, ...args] = service.command!;
      expect(helpOf('')).toContain(command);
      for (const option of args.filter((a) => a.startsWith('--')))
        expect(helpOf(command!), `${name}: ${option}`).toContain(option);
    }
  }, 60_000);

  it('gives each component only settings the configuration knows, with valid values', () => {
    const users = read('deploy/nats/users.conf');
    for (const [name, service] of appServices) {
      const env = Object.fromEntries(
        Object.entries(service.environment!).map(([k, v]) => [k, substitute(String(v))]),
      );
      for (const variable of Object.keys(env))
        expect(CONFIG_VARIABLES, `${name}: ${variable}`).toContain(variable);
      const config = loadConfig(env);
      // Every NATS URL names a cluster node at its client port.
      expect(config.natsServers).toEqual(
        natsServices.map(([n, s]) => `nats://${n}:${s.environment!.CLIENT_PORT}`),
      );
      expect(service.volumes).toContain('./deploy/nats/tls/ca.pem:/etc/nats-orders/ca.pem:ro');
      expect(config.natsAuth.tlsCaFile).toBe('/etc/nats-orders/ca.pem');
      if (name === 'payments') continue;
      // Its NATS user exists, with the password variable the nodes give that user.
      const user = config.natsAuth.user!;
      expect(users).toContain(`user: ${user}\n`);
      expect(service.environment!.NATS_PASSWORD).toContain(`${user.toUpperCase()}_NATS_PASSWORD`);
      const stub = compose.services.payments!.command!;
      expect(config.paymentUrl).toBe(`http://payments:${stub[stub.indexOf('--port') + 1]}`);
    }
    expect(compose.services.provision!.environment!.NATS_USER).toBe('admin');
  });

  it('publishes, probes and scrapes the ports the components listen on', () => {
    const gateway = compose.services.gateway!;
    const httpPort = gateway.environment!.HTTP_PORT!;
    expect(gateway.ports!.every((p) => p.endsWith(`:${httpPort}`))).toBe(true);
    expect(gateway.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${httpPort}/readyz`);
    const prometheus = parse(read('deploy/prometheus/prometheus.yml')) as {
      scrape_configs: Array<{
        job_name: string;
        dns_sd_configs: Array<{ names: string[]; port: number }>;
      }>;
    };
    const scraped = Object.fromEntries(
      prometheus.scrape_configs.map((job) => [
        job.dns_sd_configs[0]!.names[0],
        job.dns_sd_configs[0]!.port,
      ]),
    );
    expect(scraped).toEqual({
      gateway: Number(httpPort),
      worker: Number(compose.services.worker!.environment!.METRICS_PORT),
      relay: Number(compose.services.relay!.environment!.METRICS_PORT),
    });
    for (const name of ['worker', 'relay'])
      expect(compose.services[name]!.healthcheck!.test.join(' ')).toContain(
        `127.0.0.1:${compose.services[name]!.environment!.METRICS_PORT}/healthz`,
      );
  });

  it('mounts only files that exist (the TLS set comes from deploy/make-dev-secrets.sh)', () => {
    for (const [, service] of [...services]) {
      for (const volume of service.volumes ?? []) {
        const host = volume.split(':')[0]!;
        if (!host.startsWith('./')) continue;
        if (host.startsWith('./deploy/nats/tls')) continue;
        expect(existsSync(`${root}${host.slice(2)}`), host).toBe(true);
      }
    }
    expect(existsSync(`${root}deploy/make-dev-secrets.sh`)).toBe(true);
  });
});
