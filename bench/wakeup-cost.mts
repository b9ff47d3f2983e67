/**
 * `npm run bench:wakeup-cost`: what one message costs a process that wakes up for it, at a few
 * paced rates. A requester sends core NATS requests on a fixed schedule to an echo responder in
 * another process; the CPU each side (and nats-server) spends per message is read from /proc
 * (schedstat: nanoseconds on a core). The work per message is the same at every rate, so what
 * grows as the rate falls is the cost of waking up for each one: the platform's, not ours.
 * It explains why the bench's paced runs cost more CPU per order than its closed loop.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { findNatsServerBinary, startNatsServers } from '../src/shared/index.js';
import { procSchedSeconds } from './processes.js';

const RATES = [250, 1_000, 4_000, 16_000];
/** `--seconds` per rate: 5 by default; the smoke test runs a fraction of one. */
const SECONDS_PER_RATE = Number(
  parseArgs({ options: { seconds: { type: 'string', default: '5' } } }).values.seconds,
);
if (!(SECONDS_PER_RATE > 0)) {
  process.stderr.write('bench:wakeup-cost: --seconds must be a positive number\n');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'nats-orders-wakeup-'));
const [server] = await startNatsServers({
  bin: findNatsServerBinary(process.env),
  dir,
  size: 1,
  syncAlways: false,
});
const url = server!.node.url;
const responder = fork(fileURLToPath(new URL('./echo-responder.mts', import.meta.url)), [url], {
  execArgv: ['--import', 'tsx'],
});
await new Promise((resolve) => responder.once('message', resolve));
const nc = await connect({ servers: url });

const runSeconds = () => ({
  responder: procSchedSeconds(responder.pid!).run,
  server: procSchedSeconds(server!.pid!).run,
  requester: procSchedSeconds(process.pid).run,
});

/** Sends `rate` requests a second for SECONDS_PER_RATE; returns CPU µs per message by process. */
async function paced(rate: number): Promise<Record<string, number>> {
  const messages = Math.max(1, Math.round(rate * SECONDS_PER_RATE));
  const before = runSeconds();
  const start = performance.now();
  const replies: Array<Promise<unknown>> = [];
  for (let i = 0; i < messages; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    replies.push(nc.request('wakeup.echo', 'x', { timeout: 10_000 }));
  }
  await Promise.all(replies);
  const after = runSeconds();
  return Object.fromEntries(
    Object.entries(after).map(([name, s]) => [
      name,
      Math.round(((s - before[name as keyof typeof before]) / messages) * 1e6),
    ]),
  );
}

try {
  await paced(1_000); // warm-up: JIT and connections, not reported
  console.log('rate/s    responder  nats-server  requester   (CPU µs per message)');
  for (const rate of RATES) {
    const cost = await paced(rate);
    console.log(
      `${String(rate).padStart(6)}    ${String(cost.responder).padStart(9)}  ${String(cost.server).padStart(11)}  ${String(cost.requester).padStart(9)}`,
    );
  }
} finally {
  responder.kill();
  await nc.close();
  await server!.stop();
  rmSync(dir, { recursive: true, force: true });
}
