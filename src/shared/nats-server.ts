/**
 * Running a real nats-server: the embedded server of `nats-orders dev` and the test fixtures
 * (single node and 3-node cluster) both start it through here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StartupError } from './errors.js';
import { freePort } from './free-port.js';

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
