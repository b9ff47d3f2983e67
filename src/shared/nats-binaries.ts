/**
 * Where the nats-server and `nats` CLI binaries are: `NATS_SERVER_BIN` / `NATS_CLI_BIN`, then
 * `PATH`, then `$(go env GOPATH)/bin` (where `npm run nats:install` puts them).
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
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
