/** Opens an ordinary connection, or fails with a message that says which setting to check. */
import { certificateFailure } from '../domain/certificate.ts';
import { RelayError } from '../domain/errors.ts';
import { createDbClient, type DbClient, type DbOptions, type DbPurpose } from './client.ts';

export async function connectOrExplain(
  db: DbClient,
  options: { retriable?: boolean } = {},
): Promise<void> {
  try {
    await db.connect();
  } catch (error) {
    const certificate = explainCertificate(error);
    throw new RelayError(
      'PG_CONNECT',
      `cannot connect to PostgreSQL: ${(error as Error).message}`,
      {
        cause: error,
        retriable: !certificate && (options.retriable ?? false),
        hint: certificate ?? 'Check RELAY_PG_URL: host, port, database, user and password.',
      },
    );
  }
}

/** A connection for `purpose` (see client.ts), connected by connectOrExplain. */
export async function openDb(
  pgUrl: string,
  purpose: Exclude<DbPurpose, 'replication'>,
  options: DbOptions & { retriable?: boolean } = {},
): Promise<DbClient> {
  const db = createDbClient(pgUrl, purpose, options);
  await connectOrExplain(db, { retriable: options.retriable ?? false });
  return db;
}

/**
 * Runs `work` on a connection opened by openDb and ends it afterwards, whatever happened. A
 * failure to end is not reported: the work is done, and the server drops the session anyway.
 */
export async function withDb<T>(
  pgUrl: string,
  purpose: Exclude<DbPurpose, 'replication'>,
  work: (db: DbClient) => Promise<T>,
  options: DbOptions & { retriable?: boolean } = {},
): Promise<T> {
  const db = await openDb(pgUrl, purpose, options);
  try {
    return await work(db);
  } finally {
    await db.end().catch(() => undefined);
  }
}

/**
 * The hint for a server certificate that did not verify (sslmode=verify-ca/verify-full), or
 * undefined for any other failure. Such a failure is never retriable: the settings must change.
 */
export function explainCertificate(error: unknown): string | undefined {
  const code = certificateFailure(error);
  if (!code) return undefined;
  return `The server's TLS certificate did not verify (${code}): check sslrootcert in RELAY_PG_URL (the CA that signed the server's certificate) and, with sslmode=verify-full, that the URL's host is a name or address the certificate holds.`;
}
