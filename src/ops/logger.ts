/** JSON logs through pino; one child logger per stage; secrets redacted by path. */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'password',
  '*.password',
  'pgUrl',
  '*.pgUrl',
  'connectionString',
  '*.connectionString',
  'config.pgUrl',
  'sasl',
  '*.sasl',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'outbox-relay' },
      redact: { paths: REDACTED_PATHS, censor: '*****' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
