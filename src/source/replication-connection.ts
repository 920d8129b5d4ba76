/**
 * The replication connection: START_REPLICATION with pgoutput over a ReplicationClient
 * (src/db/replication-client.ts, the only code that touches node-postgres internals); the
 * integration tests cover both.
 *
 * It never decides what is durable. It sends standby status updates with the LSN its owner
 * gives it (`reportDurable`), which must only ever be what Kafka already holds.
 */
import { EventEmitter } from 'node:events';
import { explainCertificate } from '../db/connect.ts';
import { ReplicationClient } from '../db/replication-client.ts';
import { errorMessage, RelayError } from '../domain/errors.ts';
import { invalidatedSlotError } from './slot.ts';
import { INVALID_LSN, parseLsn, type Lsn } from '../domain/lsn.ts';
import type { ServerIdentity } from '../domain/server-identity.ts';
import {
  buildStatusUpdate,
  parseFrame,
  parseTimelineHistory,
  type ReplicationFrame,
} from './protocol.ts';

/** How long close() waits for the server to end the connection before destroying the socket. */
const CLOSE_TIMEOUT_MS = 1000;

export interface ReplicationOptions {
  connectionString: string;
  slot: string;
  publication: string;
  /** How often to send a status update that also asks the server for a keepalive. */
  statusIntervalMs: number;
  /** This connection's wal_sender_timeout in ms; 0 keeps the server's. */
  walSenderTimeoutMs?: number;
  /** Ask pgoutput for logical messages too (pg_logical_emit_message; PostgreSQL 14+). */
  messages?: boolean;
}

export interface ReplicationEvents {
  frame: [ReplicationFrame];
  error: [Error];
  end: [];
}

export class ReplicationConnection extends EventEmitter<ReplicationEvents> {
  private readonly client: ReplicationClient;
  private readonly options: ReplicationOptions;
  private durable: Lsn = INVALID_LSN;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(options: ReplicationOptions) {
    super();
    // 'error' is how the stream ends; the owner listens with once(). This keeps a late one from
    // becoming an uncaught exception.
    this.on('error', () => undefined);
    this.options = options;
    this.client = new ReplicationClient(options.connectionString, {
      slot: options.slot,
      walSenderTimeoutMs: options.walSenderTimeoutMs,
    });
  }

  async connect(): Promise<void> {
    this.client.on('error', (error) => this.fail(error));
    this.client.on('end', () => this.finish());
    try {
      await this.client.connect();
    } catch (error) {
      const certificate = explainCertificate(error);
      throw new RelayError('PG_CONNECT', `cannot open a replication connection: ${String(error)}`, {
        cause: error,
        retriable: !certificate,
        hint: certificate ?? 'Check RELAY_PG_URL and that the role has the REPLICATION attribute.',
      });
    }
  }

  /** IDENTIFY_SYSTEM: which database history this connection streams, and where its WAL ends. */
  async identify(): Promise<ServerIdentity & { flushLsn: Lsn }> {
    const { rows } = await this.client.query<{
      systemid: string;
      timeline: string | number;
      xlogpos: string;
      dbname: string | null;
    }>('IDENTIFY_SYSTEM');
    const row = rows[0];
    if (!row) throw new RelayError('PG_PROTOCOL', 'IDENTIFY_SYSTEM returned no row');
    return {
      systemId: String(row.systemid),
      timeline: Number(row.timeline),
      database: row.dbname ?? '',
      flushLsn: parseLsn(row.xlogpos),
    };
  }

  /**
   * TIMELINE_HISTORY: where each ancestor of `timeline` ended. Only for timelines after the
   * first (timeline 1 has no history file).
   */
  async timelineHistory(timeline: number): Promise<Map<number, Lsn>> {
    const { rows } = await this.client.query<{ content: string | Buffer }>(
      `TIMELINE_HISTORY ${timeline}`,
    );
    const content = rows[0]?.content;
    return parseTimelineHistory(Buffer.isBuffer(content) ? content.toString() : (content ?? ''));
  }

  /** The process id of this connection's walsender: `active_pid` of a slot it streams. */
  get walsenderPid(): number {
    return this.client.processID;
  }

  /**
   * Starts streaming from the slot's confirmed position; resolves once the server streams. The
   * owner, not the server, drops what its own durable position says Kafka already holds, so
   * that it can count it.
   */
  async start(): Promise<void> {
    const started = new Promise<void>((resolve) => this.client.onceReplicationStart(resolve));
    this.client.onCopyData((chunk) => this.onCopyData(chunk));
    const publication = this.options.publication.replaceAll("'", "''");
    const sql =
      `START_REPLICATION SLOT ${this.options.slot} LOGICAL 0/0 ` +
      `(proto_version '1', publication_names '"${publication}"'` +
      `${this.options.messages ? ", messages 'true'" : ''})`;
    // The query only settles when streaming ends; errors before and during streaming land here.
    this.client.query(sql).then(
      () => this.finish(),
      (error: unknown) => this.fail(error),
    );
    await Promise.race([started, this.failure()]);
    this.timer = setInterval(() => this.sendStatus(true), this.options.statusIntervalMs);
    this.timer.unref();
  }

  /** Records the LSN Kafka holds; the next status update (or this call, if `immediately`) reports it. */
  reportDurable(lsn: Lsn, immediately = false): void {
    if (lsn <= this.durable) return;
    this.durable = lsn;
    if (immediately) this.sendStatus(false);
  }

  /** Stops reading from the socket; the server blocks once buffers fill. Bounds our memory. */
  pause(): void {
    this.client.pause();
  }

  resume(): void {
    this.client.resume();
  }

  /** True once the stream has ended, failed or been closed: nothing more will arrive. */
  get closed(): boolean {
    return this.ended;
  }

  /**
   * Sends a last status update and closes the connection. Bounded: a server that is gone, or a
   * socket paused by backpressure, may never answer the goodbye, so after CLOSE_TIMEOUT_MS the
   * socket is destroyed.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    if (!this.ended) this.sendStatus(false);
    this.ended = true;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), CLOSE_TIMEOUT_MS);
    });
    const outcome = await Promise.race([this.client.end().catch(() => undefined), late]);
    clearTimeout(timer);
    if (outcome === 'late') this.client.destroy();
  }

  private sendStatus(askForReply: boolean): void {
    if (this.ended) return;
    const now = BigInt(Date.now()) * 1000n;
    try {
      this.client.sendCopyData(buildStatusUpdate(this.durable, now, askForReply));
    } catch (error) {
      this.fail(error);
    }
  }

  private onCopyData(chunk: Buffer): void {
    let frame: ReplicationFrame;
    try {
      frame = parseFrame(chunk);
    } catch (error) {
      this.fail(new RelayError('PG_PROTOCOL', String(error), { cause: error, retriable: true }));
      return;
    }
    if (frame.kind === 'keepalive' && frame.replyRequested) this.sendStatus(false);
    this.emit('frame', frame);
  }

  private failure(): Promise<never> {
    return new Promise((_, reject) => this.once('error', reject));
  }

  /** Ends the stream with an error; emitted once as 'error'. */
  abort(error: unknown): void {
    this.fail(error);
  }

  private fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.timer);
    this.emit('error', asReplicationError(error, this.options.slot));
    void this.client.end().catch(() => undefined);
  }

  private finish(): void {
    if (this.ended) return;
    this.fail(
      new RelayError('PG_REPLICATION_LOST', 'the replication connection closed', {
        retriable: true,
      }),
    );
  }
}

function asReplicationError(error: unknown, slot: string): RelayError {
  if (error instanceof RelayError) return error;
  const pgCode = (error as { code?: string }).code;
  const message = errorMessage(error);
  if (pgCode === '55006') {
    return new RelayError(
      'PG_SLOT_BUSY',
      `slot "${slot}" is active for another process: ${message}`,
      {
        cause: error,
        retriable: true,
        hint: 'Another relay streams from this slot; this one waits and retries.',
      },
    );
  }
  const invalidation = invalidationOf(error, pgCode, message);
  if (invalidation !== null) return invalidatedSlotError(slot, invalidation, error);
  if (pgCode === '42704') {
    return new RelayError('PG_SLOT', message, {
      cause: error,
      hint:
        'Run "outbox-relay migrate" or check RELAY_SLOT / RELAY_PUBLICATION. A slot dropped ' +
        'while the relay ran lost its position: after recreating it, send the events written ' +
        'since with "outbox-relay replay --from <time>".',
    });
  }
  return new RelayError('PG_REPLICATION_LOST', `replication stream failed: ${message}`, {
    cause: error,
    retriable: true,
  });
}

/**
 * START_REPLICATION on a slot PostgreSQL invalidated: SQLSTATE 55000, "cannot read from logical
 * replication slot" (14, 15), "can no longer get changes from replication slot" (16, 17) or "can
 * no longer access replication slot" (18, with the reason in the detail). Null for other errors.
 */
export function invalidationOf(error: unknown, pgCode: string | undefined, message: string) {
  if (pgCode !== '55000' || !INVALIDATED_SLOT.test(message)) return null;
  const raw = (error as { detail?: unknown }).detail;
  const detail = typeof raw === 'string' ? raw : '';
  const named = /due to "([a-z_]+)"/.exec(detail)?.[1];
  if (named) return named;
  return detail.includes('exceeded the maximum reserved size') ? 'wal_removed' : 'invalidated';
}

const INVALIDATED_SLOT =
  /(cannot read from logical|can no longer get changes from|can no longer access) replication slot/;
