/**
 * Finding and running a real nats-server: the embedded server of `nats-orders dev` and the
 * test fixtures (single node and 3-node cluster) both start it through here.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { StartupError } from './errors.js';

export const PINNED_NATS_SERVER_VERSION = 'v2.12.15';
const INSTALL_HINT =
  `run \`npm run nats:install\` (go install github.com/nats-io/nats-server/v2@${PINNED_NATS_SERVER_VERSION}) ` +
  'or set NATS_SERVER_BIN to a nats-server binary';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function goBinDir(env: Record<string, string | undefined>): string {
  try {
    const gobin = execFileSync('go', ['env', 'GOBIN'], { encoding: 'utf8' }).trim();
    if (gobin) return gobin;
    return join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin');
  } catch {
    return join(env.GOPATH ?? join(homedir(), 'go'), 'bin');
  }
}

/** `NATS_SERVER_BIN`, then `PATH`, then `$(go env GOPATH)/bin`; else one clear error. */
export function findNatsServerBinary(env: Record<string, string | undefined>): string {
  return findBinary('nats-server', env.NATS_SERVER_BIN, env) ?? notFound();
}

/** The `nats` CLI, found the same way (`NATS_CLI_BIN`), or undefined. */
export function findNatsCli(env: Record<string, string | undefined>): string | undefined {
  return findBinary('nats', env.NATS_CLI_BIN, env);
}

function findBinary(
  name: string,
  explicit: string | undefined,
  env: Record<string, string | undefined>,
): string | undefined {
  if (explicit) {
    if (isExecutable(explicit)) return explicit;
    throw new StartupError(`${name} binary ${explicit} (from the environment) is not executable`);
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  const inGoBin = join(goBinDir(env), name);
  return isExecutable(inGoBin) ? inGoBin : undefined;
}

function notFound(): never {
  throw new StartupError(
    `nats-server not found on PATH, in $(go env GOPATH)/bin or at NATS_SERVER_BIN: ${INSTALL_HINT}`,
  );
}

/**
 * Ports for servers we start (nats-server nodes, components) are taken below Linux's ephemeral
 * range (32768-60999): a node restarted after a crash must get its own port back, and inside
 * that range any outgoing connection meanwhile may have been given it as its local port
 * (seen: a restarted node "exited early" in the fault campaign).
 */
const PORT_RANGE = { from: 20_000, to: 32_000 };
const MAX_PORT_TRIES = 50;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let i = 0; i < MAX_PORT_TRIES; i++) {
    const port = PORT_RANGE.from + randomInt(PORT_RANGE.to - PORT_RANGE.from);
    if (await canListen(port)) return port;
  }
  throw new StartupError(
    `no free port in ${PORT_RANGE.from}-${PORT_RANGE.to} after ${MAX_PORT_TRIES} tries`,
  );
}

export interface NatsServerNode {
  name: string;
  host: string;
  clientPort: number;
  httpPort: number;
  clusterPort: number | undefined;
  storeDir: string;
  url: string;
}

export interface NatsServerOptions {
  bin: string;
  /** A directory of its own: config, store and log go there. */
  dir: string;
  name: string;
  clientPort?: number;
  cluster?: { name: string; port: number; routes: number[] };
  /** `jetstream { sync_interval: always }`: fsync every write (whole-machine crash safety). */
  syncAlways?: boolean;
  /** Write the server's own log to `<dir>/server.log` (true) or inherit stderr. */
  logToFile?: boolean;
}

/** A nats-server child process that can be stopped, killed (SIGKILL) and started again. */
export class NatsServerProcess {
  readonly node: NatsServerNode;
  private child: ChildProcess | undefined;
  private readonly configFile: string;

  private constructor(
    private readonly opts: NatsServerOptions,
    node: NatsServerNode,
  ) {
    this.node = node;
    this.configFile = join(opts.dir, 'nats-server.conf');
  }

  static async create(opts: NatsServerOptions): Promise<NatsServerProcess> {
    const host = '127.0.0.1';
    const clientPort = opts.clientPort ?? (await freePort());
    const httpPort = await freePort();
    const storeDir = join(opts.dir, 'jetstream');
    mkdirSync(storeDir, { recursive: true });
    const node: NatsServerNode = {
      name: opts.name,
      host,
      clientPort,
      httpPort,
      clusterPort: opts.cluster?.port,
      storeDir,
      url: `nats://${host}:${clientPort}`,
    };
    const server = new NatsServerProcess(opts, node);
    writeFileSync(server.configFile, server.configText());
    return server;
  }

  private configText(): string {
    const { cluster } = this.opts;
    const lines = [
      `server_name: ${JSON.stringify(this.node.name)}`,
      `listen: "${this.node.host}:${this.node.clientPort}"`,
      `http: "${this.node.host}:${this.node.httpPort}"`,
      `max_payload: 1MB`,
      `jetstream {`,
      `  store_dir: ${JSON.stringify(this.node.storeDir)}`,
      this.opts.syncAlways ? `  sync_interval: always` : '',
      `}`,
    ];
    if (cluster) {
      lines.push(
        `cluster {`,
        `  name: ${JSON.stringify(cluster.name)}`,
        `  listen: "${this.node.host}:${cluster.port}"`,
        `  routes: [${cluster.routes.map((p) => JSON.stringify(`nats-route://${this.node.host}:${p}`)).join(', ')}]`,
        `}`,
      );
    }
    return lines.filter(Boolean).join('\n') + '\n';
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /** Spawns the server; resolves once it is listening (JetStream readiness is `waitHealthy`). */
  async start(): Promise<void> {
    if (this.running) return;
    const logFd =
      this.opts.logToFile === false ? 'inherit' : openSync(join(this.opts.dir, 'server.log'), 'a');
    const child = spawn(this.opts.bin, ['-c', this.configFile], {
      stdio: ['ignore', logFd, logFd],
    });
    if (typeof logFd === 'number') closeSync(logFd);
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(new StartupError(`cannot start ${this.opts.bin}: ${err.message}`, err)),
      );
    });
    await this.waitFor(`/healthz?js-server-only=true`, 15_000);
  }

  /** The server log's last lines, so that a failed start says why even after its dir is gone. */
  private logTail(): string {
    if (this.opts.logToFile === false) return '';
    try {
      const lines = readFileSync(join(this.opts.dir, 'server.log'), 'utf8').trimEnd().split('\n');
      return `:\n${lines.slice(-8).join('\n')}`;
    } catch {
      return '';
    }
  }

  /** Waits until the server reports JetStream healthy (meta leader known, assets current). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    await this.waitFor('/healthz', timeoutMs);
  }

  private async waitFor(path: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running)
        throw new StartupError(
          `nats-server ${this.node.name} exited early (${this.opts.dir}/server.log)${this.logTail()}`,
        );
      try {
        const res = await fetch(`http://${this.node.host}:${this.node.httpPort}${path}`);
        last = await res.text();
        if (res.ok) return;
      } catch (err) {
        last = String(err);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new StartupError(
      `nats-server ${this.node.name} not ready after ${timeoutMs} ms: ${last}`,
    );
  }

  /** Graceful stop (SIGTERM lets JetStream flush), escalating to SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    await this.signal('SIGTERM', graceMs);
  }

  /** SIGKILL: the crash of a node, for fault tests. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL', 5_000);
  }

  private async signal(signal: NodeJS.Signals, graceMs: number): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

interface StartServersOptions {
  bin: string;
  dir: string;
  size: number;
  syncAlways?: boolean;
  clientPort?: number;
}

/**
 * Starts one JetStream server, or a cluster of `size` routed to each other. A free port can be
 * taken by another process between `freePort()` and the server's bind, so a start that fails
 * is retried with fresh ports (a fixed `clientPort` is kept: its owner chose it).
 */
export async function startNatsServers(opts: StartServersOptions): Promise<NatsServerProcess[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsServersOnce(opts);
    } catch (err) {
      if (attempt >= 3 || opts.clientPort !== undefined) throw err;
    }
  }
}

async function startNatsServersOnce(opts: StartServersOptions): Promise<NatsServerProcess[]> {
  const clusterPorts =
    opts.size > 1 ? await Promise.all(Array.from({ length: opts.size }, () => freePort())) : [];
  const servers: NatsServerProcess[] = [];
  for (let i = 0; i < opts.size; i++) {
    const dir = join(opts.dir, `n${i + 1}`);
    mkdirSync(dir, { recursive: true });
    const clusterPort = clusterPorts[i];
    servers.push(
      await NatsServerProcess.create({
        bin: opts.bin,
        dir,
        name: `n${i + 1}`,
        ...(opts.clientPort !== undefined && i === 0 ? { clientPort: opts.clientPort } : {}),
        ...(clusterPort === undefined
          ? {}
          : { cluster: { name: 'nats-orders', port: clusterPort, routes: clusterPorts } }),
        ...(opts.syncAlways ? { syncAlways: true } : {}),
      }),
    );
  }
  try {
    await Promise.all(servers.map((s) => s.start()));
    await Promise.all(servers.map((s) => s.waitHealthy()));
  } catch (err) {
    await Promise.all(servers.map((s) => s.kill()));
    throw err;
  }
  return servers;
}
