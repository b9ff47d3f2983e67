import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The one root logger of a process. Components take `log.child({ component })`; per-message
 * children add `{ orderId, seq, attempt }`. Secrets are redacted by fixed paths.
 */
export function createRootLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          'config.apiKeys',
          'config.adminApiKey',
          'config.natsAuth.password',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
