/** Opens an ordinary connection, or fails with a message that says which setting to check. */
import type pg from 'pg';
import { RelayError } from '../domain/errors.ts';

export async function connectOrExplain(
  db: pg.Client,
  options: { retriable?: boolean } = {},
): Promise<void> {
  try {
    await db.connect();
  } catch (error) {
    throw new RelayError(
      'PG_CONNECT',
      `cannot connect to PostgreSQL: ${(error as Error).message}`,
      {
        cause: error,
        retriable: options.retriable ?? false,
        hint: 'Check RELAY_PG_URL: host, port, database, user and password.',
      },
    );
  }
}
