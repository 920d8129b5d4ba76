/** Opens an ordinary connection, or fails with a message that says which setting to check. */
import type pg from 'pg';
import { certificateFailure } from '../domain/certificate.ts';
import { RelayError } from '../domain/errors.ts';

export async function connectOrExplain(
  db: pg.Client,
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

/**
 * The hint for a server certificate that did not verify (sslmode=verify-ca/verify-full), or
 * undefined for any other failure. Such a failure is never retriable: the settings must change.
 */
export function explainCertificate(error: unknown): string | undefined {
  const code = certificateFailure(error);
  if (!code) return undefined;
  return `The server's TLS certificate did not verify (${code}): check sslrootcert in RELAY_PG_URL (the CA that signed the server's certificate) and, with sslmode=verify-full, that the URL's host is a name or address the certificate holds.`;
}
