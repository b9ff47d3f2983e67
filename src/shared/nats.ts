/**
 * Connecting to NATS: credentials and TLS from configuration, reconnecting for ever (a cluster
 * node restart must not kill a component), and connection events in the log.
 */
import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { ConnectionOptions } from '@nats-io/transport-node';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { StartupError, errorMessage } from './errors.js';

export type { NatsConnection } from '@nats-io/transport-node';

export function connectionOptions(
  config: Pick<Config, 'natsServers' | 'natsAuth'>,
  name: string,
): ConnectionOptions {
  const { natsAuth: auth } = config;
  const opts: ConnectionOptions = {
    servers: config.natsServers ? [...config.natsServers] : ['nats://127.0.0.1:4222'],
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    pingInterval: 10_000,
    waitOnFirstConnect: true,
    // Otherwise every request (each KV get/update, each publish) builds two Error objects up
    // front to keep the caller's stack for a later timeout: ~10% of a worker's CPU in the
    // bench profile. Our errors carry the operation and order id in their log line instead.
    noAsyncTraces: true,
  };
  if (auth.credsFile) opts.authenticator = credsAuthenticator(readFileSync(auth.credsFile));
  if (auth.user) {
    opts.user = auth.user;
    opts.pass = auth.password;
  }
  if (auth.tlsCaFile || auth.tlsCertFile) {
    opts.tls = {
      ...(auth.tlsCaFile ? { caFile: auth.tlsCaFile } : {}),
      ...(auth.tlsCertFile ? { certFile: auth.tlsCertFile, keyFile: auth.tlsKeyFile } : {}),
    };
  }
  return opts;
}

/** Connects, or fails with one clear line after `timeoutMs` of trying. */
export async function connectNats(
  config: Pick<Config, 'natsServers' | 'natsAuth'>,
  name: string,
  log: Logger,
  timeoutMs = 15_000,
): Promise<NatsConnection> {
  const opts = connectionOptions(config, name);
  let nc: NatsConnection;
  try {
    nc = await connect({ ...opts, timeout: timeoutMs });
  } catch (err) {
    throw new StartupError(
      `cannot connect to NATS at ${String(opts.servers)}: ${errorMessage(err)}`,
      err,
    );
  }
  log.info({ server: nc.getServer() }, 'connected to NATS');
  return nc;
}

export interface ConnectionMonitor {
  connected(): boolean;
  /** True at once when connected; else true on reconnecting, false if not within `withinMs`. */
  whenConnected(withinMs: number): Promise<boolean>;
}

/** Logs connection changes and tells whether the connection is up now (for readiness). */
export function monitorConnection(nc: NatsConnection, log: Logger): ConnectionMonitor {
  let connected = !nc.isClosed();
  const waitingForReconnect = new Set<() => void>();
  const wakeWaiters = () => {
    for (const wake of waitingForReconnect) wake();
  };
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        connected = false;
        log.warn({ server: status.server }, 'NATS disconnected');
      } else if (status.type === 'reconnect') {
        connected = true;
        log.info({ server: status.server }, 'NATS reconnected');
        wakeWaiters();
      } else if (status.type === 'error') {
        log.error({ err: status.error }, 'NATS connection error');
      }
    }
  })();
  void nc.closed().then(() => {
    connected = false;
    wakeWaiters();
  });
  const isUp = () => connected && !nc.isClosed();
  return {
    connected: isUp,
    whenConnected(withinMs) {
      if (isUp() || nc.isClosed()) return Promise.resolve(isUp());
      return new Promise((resolve) => {
        const settle = () => {
          clearTimeout(timer);
          waitingForReconnect.delete(settle);
          resolve(isUp());
        };
        const timer = setTimeout(settle, withinMs);
        waitingForReconnect.add(settle);
      });
    },
  };
}
