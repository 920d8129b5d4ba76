/**
 * The one door to node-postgres: every connection the relay and its commands open is built
 * here, by purpose, so that its application_name (what pg_stat_activity and
 * pg_stat_replication show an operator) and its timeouts are decided in one table. Other layers
 * use the types below and never import 'pg' (eslint.config.js enforces it).
 */
import pg from 'pg';
import { hostUrl } from './hosts.ts';

/** A connected client, owned or pooled: what a query function takes. */
export type Db = pg.ClientBase;
/** A client this process opened: it connects it and must end it. */
export type DbClient = pg.Client;
export type DbPool = pg.Pool;
export type QueryConfig = pg.QueryConfig;
export type QueryResultRow = pg.QueryResultRow;

/**
 * Why a connection is opened. The relay's own ordinary connections (start checks, the slot's
 * position, a look at the catalog) are 'relay'; the streaming one is 'replication' (see
 * replication-client.ts); each command has its own, and 'reader' is named by its caller.
 */
export type DbPurpose =
  | 'relay'
  | 'lease'
  | 'heartbeat'
  | 'slot-health'
  | 'prune'
  | 'migrate'
  | 'offsets'
  | 'doctor'
  | 'reader'
  | 'replication';

interface PurposeSettings {
  readonly applicationName: string;
  /** Bound on the connection attempt and on each query, in ms; none when absent. */
  readonly timeoutMs?: number;
}

const PURPOSES: Readonly<Record<DbPurpose, PurposeSettings>> = {
  relay: { applicationName: 'outbox-relay' },
  // A lease question that hangs would hold the session's check of who streams from the slot.
  lease: { applicationName: 'outbox-relay:lease', timeoutMs: 5_000 },
  heartbeat: { applicationName: 'outbox-relay heartbeat' },
  // A check that hangs (a server going away) must not pile up: the next tick reports it.
  'slot-health': { applicationName: 'outbox-relay slot-health', timeoutMs: 5_000 },
  prune: { applicationName: 'outbox-relay prune' },
  migrate: { applicationName: 'outbox-relay migrate' },
  offsets: { applicationName: 'outbox-relay offsets' },
  doctor: { applicationName: 'outbox-relay doctor' },
  reader: { applicationName: 'outbox-relay reader' },
  // Named after the slot by ReplicationClient, so that an operator sees which slot it streams.
  replication: { applicationName: 'outbox-relay' },
};

export interface DbOptions {
  /** Replaces the purpose's application_name. */
  readonly applicationName?: string;
  /** Replaces the purpose's bound on the connection attempt and on each query, in ms. */
  readonly timeoutMs?: number;
  /** Session settings sent at connect (libpq `options`), such as '-c timezone=UTC'. */
  readonly sessionOptions?: string;
}

/** The settings of a connection for `purpose`: the one place they are decided. */
export function clientConfig(
  pgUrl: string,
  purpose: DbPurpose,
  options: DbOptions = {},
): pg.ClientConfig {
  const settings = PURPOSES[purpose];
  const timeoutMs = options.timeoutMs ?? settings.timeoutMs;
  return {
    connectionString: hostUrl(pgUrl),
    application_name: options.applicationName ?? settings.applicationName,
    ...(timeoutMs === undefined
      ? {}
      : { connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs }),
    ...(options.sessionOptions === undefined ? {} : { options: options.sessionOptions }),
  };
}

/** An ordinary connection, not yet connected (see connectOrExplain in connect.ts). */
export function createDbClient(
  pgUrl: string,
  purpose: Exclude<DbPurpose, 'replication'>,
  options: DbOptions = {},
): DbClient {
  return new pg.Client(clientConfig(pgUrl, purpose, options));
}

/** A pool of at most `max` ordinary connections, opened as queries need them. */
export function createDbPool(
  pgUrl: string,
  purpose: Exclude<DbPurpose, 'replication'>,
  options: DbOptions & { readonly max: number },
): DbPool {
  return new pg.Pool({ ...clientConfig(pgUrl, purpose, options), max: options.max });
}
