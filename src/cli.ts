#!/usr/bin/env node
/**
 * The `nats-orders` command line: run a component (one per process, as many as wanted), the
 * whole system (`dev`), provisioning, a terminal client (`submit`, `get`, `cancel`) and the
 * dead-letter tools (`dlq`, in dlq-cli.ts).
 */
import { Command, InvalidArgumentError } from 'commander';
import { nuid } from '@nats-io/transport-node';
import { COMPONENTS, provisionTopology, startAllComponents, startComponent } from './components.js';
import { runDev } from './dev.js';
import { registerDlqCommands } from './dlq-cli.js';
import { createPaymentsStub } from './payments-stub/index.js';
import { onShutdown, runCommand } from './run.js';
import {
  StartupError,
  checkInvariants,
  errorMessage,
  readLedgerCharges,
  connectNats,
  createRootLogger,
  loadConfig,
  violationCount,
  PACKAGE_VERSION,
} from './shared/index.js';
import { jetstream } from '@nats-io/jetstream';

const program = new Command('nats-orders')
  .description('Exactly-once order intake and payment processing on NATS JetStream')
  .version(PACKAGE_VERSION)
  .showHelpAfterError();

const int = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

program
  .command('dev')
  .description('run everything on an embedded local nats-server (the `npm start` command)')
  .action(() => runCommand(() => runDev(process.env)));

for (const name of COMPONENTS) {
  program
    .command(name)
    .description(`run one ${name} (start as many as you like)`)
    .option('--no-provision', 'do not create or check the NATS resources at start')
    .action((opts: { provision: boolean }) =>
      runCommand(async () => {
        const config = loadConfig(process.env);
        const log = createRootLogger(config.logLevel);
        const component = await startComponent(name, {
          config,
          log,
          provision: opts.provision,
        });
        onShutdown(log, () => component.stop());
      }),
    );
}

program
  .command('all')
  .description(
    'run a relay, a worker and a gateway in one process (few cores: fewer processes to wake)',
  )
  .option('--no-provision', 'do not create or check the NATS resources at start')
  .action((opts: { provision: boolean }) =>
    runCommand(async () => {
      const config = loadConfig(process.env);
      const log = createRootLogger(config.logLevel);
      const all = await startAllComponents({ config, log, provision: opts.provision });
      onShutdown(log, () => all.stop());
    }),
  );

program
  .command('provision')
  .description('create or check the streams, consumers and buckets, then exit')
  .action(() =>
    runCommand(async () => {
      const config = loadConfig(process.env);
      const log = createRootLogger(config.logLevel);
      const nc = await connectNats(config, 'nats-orders-provision', log);
      try {
        const report = await provisionTopology(nc, config);
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } finally {
        await nc.drain();
      }
    }),
  );

program
  .command('payments-stub')
  .description('run the payment service stub (latency and failure injection)')
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--port <port>', 'listen port', int('--port'), 4100)
  .option('--latency-ms <ms>', 'latency added to every call', int('--latency-ms'), 0)
  .option('--fail-first <n>', 'the first n calls of each key fail', int('--fail-first'), 0)
  .option('--fail-always', 'every call fails', false)
  .option('--fail-rate <p>', 'each call fails with probability p (0..1)', Number, 0)
  .option('--fail-status <status>', 'HTTP status of injected failures', int('--fail-status'), 500)
  .option(
    '--retry-after <seconds>',
    'Retry-After sent with injected failures',
    int('--retry-after'),
  )
  .option('--charge-before-failing', 'injected failures charge first (an unknown outcome)', false)
  .action(
    (opts: {
      host: string;
      port: number;
      latencyMs: number;
      failFirst: number;
      failAlways: boolean;
      failRate: number;
      failStatus: number;
      retryAfter?: number;
      chargeBeforeFailing: boolean;
    }) =>
      runCommand(async () => {
        const log = createRootLogger('info');
        const stub = createPaymentsStub({
          log,
          faults: {
            latencyMs: opts.latencyMs,
            failFirst: opts.failFirst,
            failAlways: opts.failAlways,
            failRate: opts.failRate,
            failStatus: opts.failStatus,
            retryAfterSec: opts.retryAfter,
            chargeBeforeFailing: opts.chargeBeforeFailing,
          },
        });
        const url = await stub.listen({ host: opts.host, port: opts.port });
        process.stdout.write(`payments stub listening on ${url} (ledger at ${url}/_stub/ledger)\n`);
        onShutdown(log, () => stub.close());
      }),
  );

interface ClientOpts {
  url: string;
  apiKey?: string;
}

const clientOptions = (cmd: Command) =>
  cmd
    .option('--url <url>', 'gateway base URL', 'http://127.0.0.1:3000')
    .option('--api-key <key>', 'API key (bearer), when the gateway has auth on');

async function printResponse(res: Response): Promise<void> {
  const text = await res.text();
  let shown = text;
  try {
    shown = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: print as is
  }
  const replayed = res.headers.get('idempotent-replayed') ? ' (replayed)' : '';
  process.stdout.write(`${res.status}${replayed}\n${shown}\n`);
  if (!res.ok) process.exitCode = 1;
}

const authHeader = (opts: ClientOpts): Record<string, string> =>
  opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {};

clientOptions(program.command('submit'))
  .description('submit an order over HTTP')
  .option('--key <key>', 'Idempotency-Key (default: a new one; reuse it to retry safely)')
  .option('--customer <id>', 'customer id', 'cli-customer')
  .option('--currency <code>', 'ISO 4217 currency', 'USD')
  .option(
    '--item <sku:quantity:unitPrice>',
    'an order line (repeatable)',
    (value: string, all: string[]) => [...all, value],
    [] as string[],
  )
  .action(
    (opts: ClientOpts & { key?: string; customer: string; currency: string; item: string[] }) =>
      runCommand(async () => {
        const items = (opts.item.length > 0 ? opts.item : ['demo-item:1:1000']).map((spec) => {
          const [sku, quantity, unitPrice] = spec.split(':');
          return { sku, quantity: Number(quantity), unitPrice: Number(unitPrice) };
        });
        const key = opts.key ?? nuid.next();
        process.stderr.write(`Idempotency-Key: ${key}\n`);
        const res = await fetch(`${opts.url}/orders`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': key,
            ...authHeader(opts),
          },
          body: JSON.stringify({ customerId: opts.customer, currency: opts.currency, items }),
        });
        await printResponse(res);
      }),
  );

clientOptions(program.command('get'))
  .description('show an order')
  .argument('<orderId>')
  .action((orderId: string, opts: ClientOpts) =>
    runCommand(async () => {
      await printResponse(
        await fetch(`${opts.url}/orders/${encodeURIComponent(orderId)}`, {
          headers: authHeader(opts),
        }),
      );
    }),
  );

clientOptions(program.command('cancel'))
  .description('cancel an order no payment was attempted for (status CREATED)')
  .argument('<orderId>')
  .action((orderId: string, opts: ClientOpts) =>
    runCommand(async () => {
      await printResponse(
        await fetch(`${opts.url}/orders/${encodeURIComponent(orderId)}/cancel`, {
          method: 'POST',
          headers: authHeader(opts),
        }),
      );
    }),
  );

program
  .command('check')
  .description(
    'audit the stored orders, ORDERS_DLQ and the payment ledger against the invariants; exit 1 on a violation',
  )
  .option(
    '--ledger-url <url>',
    "the payment service's ledger (default: the stub's, PAYMENT_URL/_stub/ledger)",
  )
  .action((opts: { ledgerUrl?: string }) =>
    runCommand(async () => {
      const config = loadConfig(process.env);
      const ledgerUrl =
        opts.ledgerUrl ?? (config.paymentUrl ? `${config.paymentUrl}/_stub/ledger` : undefined);
      if (!ledgerUrl) throw new StartupError('give --ledger-url or set PAYMENT_URL');
      const charges = await readLedgerCharges(ledgerUrl).catch((err: unknown) => {
        throw new StartupError(errorMessage(err), err);
      });
      const nc = await connectNats(config, 'nats-orders-check', createRootLogger('warn'));
      try {
        const report = await checkInvariants({ js: jetstream(nc), charges });
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        if (violationCount(report) > 0) process.exitCode = 1;
      } finally {
        await nc.drain();
      }
    }),
  );

registerDlqCommands(program);

await program.parseAsync(process.argv);
