/** Opens an ordinary connection, or fails with a message that says which setting to check. */
import { certificateFailure } from '../domain/certificate.ts';
import { errorMessage, RelayError } from '../domain/errors.ts';
import { createDbClient, type DbClient, type DbOptions, type DbPurpose } from './client.ts';
import { fits, hostOf, splitHosts } from '../domain/pg-hosts.ts';
import { chooseHost, hasChosenHost, hostUrl } from './hosts.ts';

/** Bound on reaching one host of a multi-host RELAY_PG_URL and asking whether it is a standby. */
const HOST_PROBE_TIMEOUT_MS = 5_000;

/**
 * For a RELAY_PG_URL with several hosts or target_session_attrs: tries the hosts in order and
 * makes the first that fits the connections' host until the next call; returns its host:port.
 * A one-host URL without target_session_attrs is taken as it is, unprobed. Fails (retriable)
 * when no host fits, as during a failover before the standby is promoted.
 */
export async function resolveHost(pgUrl: string): Promise<string> {
  const list = splitHosts(pgUrl);
  const only = list.urls[0];
  if (list.urls.length === 1 && list.attrs === 'any' && only !== undefined) return hostOf(only);
  const failures: string[] = [];
  for (const url of list.urls) {
    const db = createDbClient(url, 'relay', { timeoutMs: HOST_PROBE_TIMEOUT_MS });
    try {
      await db.connect();
      const { rows } = await db.query<{ standby: boolean }>(
        'SELECT pg_is_in_recovery() AS standby',
      );
      if (fits(list.attrs, rows[0]?.standby ?? true)) {
        chooseHost(pgUrl, url);
        return hostOf(url);
      }
      failures.push(`${hostOf(url)} is a standby (in recovery)`);
    } catch (error) {
      failures.push(`${hostOf(url)}: ${errorMessage(error)}`);
    } finally {
      await db.end().catch(() => undefined);
    }
  }
  throw new RelayError(
    'PG_CONNECT',
    `no host of RELAY_PG_URL accepts a ${list.attrs} session: ${failures.join('; ')}`,
    {
      retriable: true,
      hint: 'During a failover this clears once a standby is promoted; otherwise check the hosts and target_session_attrs in RELAY_PG_URL.',
    },
  );
}

/** The host connections made from `pgUrl` reach now (host:port), for logs. */
export function currentHost(pgUrl: string): string {
  return hostOf(hostUrl(pgUrl));
}

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
  if (!hasChosenHost(pgUrl)) await resolveHost(pgUrl);
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
