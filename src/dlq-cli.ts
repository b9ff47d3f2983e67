/**
 * `nats-orders dlq ls|show|redrive|purge`: the operator's tools for ORDERS_DLQ, straight over
 * NATS (NATS_URL and credentials as for every component), the same operations as the admin
 * HTTP routes.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { openDeadLetterDesk } from './components.js';
import type { DeadLetter, DeadLetterDesk, DeadLetterFilter } from './relay/index.js';
import { runCommand } from './run.js';
import { StartupError, connectNats, createRootLogger, loadConfig } from './shared/index.js';

interface FilterOpts {
  tenant?: string;
  kind?: string;
  errorCode?: string;
}

async function withDesk(action: (desk: DeadLetterDesk) => Promise<void>): Promise<void> {
  await runCommand(async () => {
    const config = loadConfig(process.env);
    const log = createRootLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
    const nc = await connectNats(config, 'nats-orders-dlq', log);
    try {
      await action(await openDeadLetterDesk(nc, log));
    } finally {
      await nc.drain();
    }
  });
}

const filterOptions = (cmd: Command) =>
  cmd
    .option('--tenant <tenant>', 'only dead letters of this tenant')
    .option('--kind <kind>', 'only this kind: max_deliveries or terminated')
    .option('--error-code <code>', 'only orders whose last error has this code, e.g. HTTP_500');

const filterFrom = (opts: FilterOpts): DeadLetterFilter => ({
  ...(opts.tenant ? { tenant: opts.tenant } : {}),
  ...(opts.kind ? { kind: opts.kind } : {}),
  ...(opts.errorCode ? { errorCode: opts.errorCode } : {}),
});

const positive = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

/** Either order ids or --all (with an optional filter): never "all" by omission. */
function targets(orderIds: string[], opts: { all?: boolean }, cmd: Command): 'all' | string[] {
  if (opts.all && orderIds.length > 0) cmd.error('error: give order ids or --all, not both');
  if (!opts.all && orderIds.length === 0)
    cmd.error('error: give one or more order ids, or --all (with filters) for every match');
  return opts.all ? 'all' : orderIds;
}

function row(entry: DeadLetter): string {
  return [
    String(entry.seq).padEnd(6),
    (entry.orderId ?? '(none)').padEnd(24),
    (entry.tenant ?? '-').padEnd(12),
    entry.kind.padEnd(15),
    String(entry.attempts ?? '-').padEnd(8),
    (entry.lastError?.code ?? '-').padEnd(26),
    entry.deadLetteredAt ?? '-',
  ].join(' ');
}

const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('inspect and handle dead-lettered orders');

  filterOptions(dlq.command('ls'))
    .description('list dead letters, oldest first')
    .option('--order <orderId>', 'only this order')
    .option('--limit <n>', 'at most n entries', positive, 100)
    .option('--after <seq>', 'only entries after this sequence (the next page)', positive)
    .option('--json', 'print JSON')
    .action(
      (opts: FilterOpts & { order?: string; limit: number; after?: number; json?: boolean }) =>
        withDesk(async (desk) => {
          const filter = { ...filterFrom(opts), ...(opts.order ? { orderId: opts.order } : {}) };
          const page = await desk.list(filter, { limit: opts.limit, afterSeq: opts.after });
          if (opts.json) return print(JSON.stringify(page, null, 2));
          print(
            'SEQ    ORDER                    TENANT       KIND            ATTEMPTS LAST ERROR                 DEAD-LETTERED AT',
          );
          for (const entry of page.entries) print(row(entry));
          const more = page.truncated ? `; more match: --after ${page.resume.afterSeq}` : '';
          print(`${page.entries.length} dead letter(s)${more}`);
        }),
    );

  dlq
    .command('show')
    .description("show an order's dead letter")
    .argument('<orderId>')
    .action((orderId: string) =>
      withDesk(async (desk) => {
        const entry = await desk.show(orderId);
        if (!entry) throw new StartupError(`no dead letter for order ${orderId}`);
        print(JSON.stringify(entry, null, 2));
      }),
    );

  filterOptions(dlq.command('redrive'))
    .description('send dead-lettered orders back for processing, with a fresh retry budget')
    .argument('[orderIds...]')
    .option('--all', 'every dead letter matching the filters')
    .action((orderIds: string[], opts: FilterOpts & { all?: boolean }, cmd: Command) => {
      const which = targets(orderIds, opts, cmd);
      return withDesk(async (desk) => {
        // --all prints each result as it comes: a large dead-letter stream is never held whole.
        const results =
          which === 'all'
            ? desk.redriveEach(filterFrom(opts))
            : await Promise.all(
                which.map(async (id) => (await desk.redrive(id)) ?? { orderId: id, missing: true }),
              );
        let done = 0;
        let failed = 0;
        for await (const r of results) {
          done++;
          if ('missing' in r) {
            failed++;
            print(`${r.orderId}: no dead letter`);
          } else {
            if (r.outcome === 'not_redrivable') failed++;
            print(
              `${r.orderId ?? `seq ${r.seq}`}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`,
            );
          }
        }
        print(`${done - failed} redriven, ${failed} not`);
        if (failed > 0) process.exitCode = 1;
      });
    });

  filterOptions(dlq.command('purge'))
    .description('remove handled dead letters (the orders stay FAILED_PERMANENT)')
    .argument('[orderIds...]')
    .option('--all', 'every dead letter matching the filters')
    .action((orderIds: string[], opts: FilterOpts & { all?: boolean }, cmd: Command) => {
      const which = targets(orderIds, opts, cmd);
      return withDesk(async (desk) => {
        let purged = 0;
        if (which === 'all') purged = await desk.purgeAll(filterFrom(opts));
        else for (const id of which) purged += await desk.purge(id);
        print(`${purged} dead letter(s) purged`);
      });
    });
}
