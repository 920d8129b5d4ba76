/**
 * A pg Client in `replication: 'database'` mode, and the only code that touches node-postgres
 * internals: `client.connection` (its copyData and replicationStart events, sendCopyFromChunk,
 * and the socket for pause/resume) and `processID`. node-postgres has no public API for a
 * streaming CopyBoth; src/source/replication-connection.ts speaks the protocol over this, and
 * the integration tests cover both.
 */
import pg from 'pg';
import { clientConfig } from './client.ts';

interface PgConnectionInternals {
  on(event: 'copyData', listener: (message: { chunk: Buffer }) => void): void;
  once(event: 'replicationStart', listener: () => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void; destroy(): void; isPaused?(): boolean };
}

export interface ReplicationClientOptions {
  /** Names the connection in pg_stat_replication (`outbox-relay:<slot>`). */
  readonly slot: string;
  /** This connection's wal_sender_timeout in ms; 0 or absent keeps the server's. */
  readonly walSenderTimeoutMs?: number;
}

export class ReplicationClient {
  private readonly client: pg.Client;

  constructor(pgUrl: string, options: ReplicationClientOptions) {
    this.client = new pg.Client({
      ...clientConfig(pgUrl, 'replication', {
        applicationName: `outbox-relay:${options.slot}`,
        // The walsender prints timestamptz in the session's zone and style; pin both so that
        // created_at text parses the same everywhere.
        sessionOptions:
          '-c timezone=UTC -c datestyle=ISO,YMD' +
          (options.walSenderTimeoutMs
            ? ` -c wal_sender_timeout=${options.walSenderTimeoutMs}`
            : ''),
      }),
      replication: 'database',
    } as pg.ClientConfig);
  }

  private get connection(): PgConnectionInternals {
    return (this.client as unknown as { connection: PgConnectionInternals }).connection;
  }

  on(event: 'error', listener: (error: Error) => void): void;
  on(event: 'end', listener: () => void): void;
  on(event: 'error' | 'end', listener: (error: Error) => void): void {
    this.client.on(event, listener);
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  /** A replication command (IDENTIFY_SYSTEM, TIMELINE_HISTORY, START_REPLICATION ...). */
  async query<R extends pg.QueryResultRow>(sql: string): Promise<{ rows: R[] }> {
    return this.client.query<R>(sql);
  }

  async end(): Promise<void> {
    await this.client.end();
  }

  /** The process id of this connection's walsender. */
  get processID(): number {
    return (this.client as unknown as { processID: number }).processID;
  }

  onceReplicationStart(listener: () => void): void {
    this.connection.once('replicationStart', listener);
  }

  onCopyData(listener: (chunk: Buffer) => void): void {
    this.connection.on('copyData', ({ chunk }) => listener(chunk));
  }

  sendCopyData(chunk: Buffer): void {
    this.connection.sendCopyFromChunk(chunk);
  }

  /** Stops reading from the socket; the server blocks once buffers fill. */
  pause(): void {
    this.connection.stream.pause();
  }

  resume(): void {
    this.connection.stream.resume();
  }

  /** Closes the socket at once, for a server that never answers the goodbye. */
  destroy(): void {
    this.connection.stream.destroy();
  }
}
