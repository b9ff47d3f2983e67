/**
 * Process plumbing for the CLI: turning a StartupError into one clear line, and ordered
 * shutdown on SIGTERM/SIGINT (a second signal or the timeout forces the exit).
 */
import closeWithGrace from 'close-with-grace';
import { StartupError, type Logger } from './shared/index.js';

export const SHUTDOWN_TIMEOUT_MS = 20_000;

/** Runs `stop` once on the first signal; exits when it is done. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  closeWithGrace({ delay: SHUTDOWN_TIMEOUT_MS }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'stopping after an unexpected error');
    else log.info({ signal }, 'stopping');
    await stop();
    log.info('stopped');
  });
}

/** Runs a command; a StartupError becomes one line on stderr and exit code 1. */
export async function runCommand(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (err instanceof StartupError) {
      process.stderr.write(`nats-orders: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
