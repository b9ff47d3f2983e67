/**
 * A free local port for a server we start (nats-server nodes, components), taken below Linux's
 * ephemeral range (32768-60999): a node restarted after a crash must get its own port back, and
 * inside that range any outgoing connection meanwhile may have been given it as its local port
 * (seen: a restarted node "exited early" in the fault campaign).
 */
import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { StartupError } from './errors.js';

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
