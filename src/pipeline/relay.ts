/**
 * The relay: prepares Postgres (wal_level, publication, slot), then runs replication sessions
 * one after another, reconnecting with capped backoff after retriable failures (Postgres
 * restarts, lost connections, a slot held by another relay) until it is asked to stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { RelayConfig } from '../config/schema.ts';
import { RelayError, isRetriable } from '../domain/errors.ts';
import { formatLsn, INVALID_LSN, type Lsn } from '../domain/lsn.ts';
import type { EventEncoder } from '../encode/encoder.ts';
import type { Router } from '../route/router.ts';
import type { Logger } from '../ops/logger.ts';
import type { RelayMetrics } from '../ops/metrics.ts';
import type { HealthState } from '../ops/health.ts';
import type { KafkaSink } from '../publish/kafka.ts';
import { ReplicationConnection } from '../source/replication-connection.ts';
import { checkPublication, checkWalLevel, ensureSlot } from '../source/slot.ts';
import { connectOrExplain } from '../db/connect.ts';
import { startHousekeeping } from './housekeeping.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../publish/checkpoint.ts';
import { ReplicationSession, type SessionOptions } from './session.ts';

export interface RelayDeps {
  config: RelayConfig;
  logger: Logger;
  metrics: RelayMetrics;
  health: HealthState;
  sink: KafkaSink;
  encoder: EventEncoder;
  router: Router;
}

export interface StopReport {
  durableLsn: string;
}

const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** A session that streamed this long resets the backoff. */
const HEALTHY_SESSION_MS = 30_000;

export class Relay {
  private readonly deps: RelayDeps;
  private readonly log: Logger;
  private stopRequested = false;
  private readonly stopSignal = new AbortController();
  private session: ReplicationSession | null = null;
  private lastDurable: Lsn = INVALID_LSN;
  private finished: Promise<Lsn> | null = null;

  constructor(deps: RelayDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ stage: 'relay' });
  }

  /** Runs until stop() or a non-retriable error (which it throws). */
  async run(): Promise<void> {
    let prepared = false;
    let backoff = BACKOFF_INITIAL_MS;
    while (!this.stopRequested) {
      const startedAt = Date.now();
      try {
        if (!prepared) {
          await this.prepare();
          await this.deps.sink.connect();
          this.deps.health.producerConnected = true;
          prepared = true;
        }
        await this.runSession();
      } catch (error) {
        if (this.stopRequested) break;
        if (!isRetriable(error)) throw error;
        if (error instanceof RelayError && error.code === 'PG_SLOT_BUSY') {
          await this.standBy(error);
          continue;
        }
        if (Date.now() - startedAt > HEALTHY_SESSION_MS) backoff = BACKOFF_INITIAL_MS;
        this.deps.health.stream = 'reconnecting';
        this.deps.health.lastError = error instanceof Error ? error.message : String(error);
        this.deps.metrics.reconnects.inc({ component: 'postgres' });
        this.log.warn(
          { err: error, retryInMs: backoff },
          'replication session ended; reconnecting',
        );
        await sleep(backoff, undefined, { signal: this.stopSignal.signal }).catch(() => undefined);
        backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
      }
    }
  }

  /**
   * Stops reading at a transaction boundary, waits for Kafka to acknowledge what is in flight,
   * reports the durable position to Postgres and closes. Resolves with that position.
   */
  async stop(): Promise<StopReport> {
    this.stopRequested = true;
    this.stopSignal.abort();
    this.deps.health.stream = 'stopping';
    const durable = this.session
      ? await (this.finished ??= this.session.finish())
      : this.lastDurable;
    this.lastDurable = durable;
    this.deps.health.stream = 'stopped';
    return { durableLsn: formatLsn(durable) };
  }

  /**
   * Gives up on a stop that cannot finish (its deadline passed): no more waiting for Kafka or for
   * the current transaction's COMMIT, and no more retries. What Kafka has not acknowledged is
   * dropped; nothing past the durable LSN was reported, so Postgres sends it again on restart.
   */
  async abandon(): Promise<void> {
    this.stopRequested = true;
    this.stopSignal.abort();
    await this.session?.abandon();
  }

  /** Another relay streams from our slot: wait as its standby and try again soon. */
  private async standBy(error: RelayError): Promise<void> {
    if (this.deps.health.stream !== 'standby') {
      this.log.info(
        { slot: this.deps.config.slot, reason: error.message },
        'standing by: another relay streams from the slot',
      );
    }
    this.deps.health.stream = 'standby';
    this.deps.health.progress();
    await sleep(this.deps.config.standbyRetryMs, undefined, {
      signal: this.stopSignal.signal,
    }).catch(() => undefined);
  }

  private async prepare(): Promise<void> {
    const { config } = this.deps;
    const db = new pg.Client({ connectionString: config.pgUrl, application_name: 'outbox-relay' });
    await connectOrExplain(db, { retriable: true });
    try {
      await checkWalLevel(db);
      const target = {
        slot: config.slot,
        publication: config.publication,
        schema: config.outboxSchema,
        table: config.outboxTable,
      };
      await checkPublication(db, target);
      const slot = await ensureSlot(db, config.slot, config.createSlot);
      if (slot.created) {
        this.log.warn(
          { slot: config.slot, lsn: slot.confirmedFlushLsn && formatLsn(slot.confirmedFlushLsn) },
          'created the replication slot; rows written before it are not relayed (use replay)',
        );
      }
    } finally {
      await db.end();
    }
  }

  private async runSession(): Promise<void> {
    const { config } = this.deps;
    const connection = new ReplicationConnection({
      connectionString: config.pgUrl,
      slot: config.slot,
      publication: config.publication,
      statusIntervalMs: config.statusIntervalMs,
    });
    const ended = new Promise<never>((_, reject) => connection.once('error', reject));
    ended.catch(() => undefined);
    await connection.connect();
    const startLsn = await this.confirmedFlush();
    const session = new ReplicationSession(
      { ...this.deps, connection, fail: (error) => connection.abort(error) },
      {
        schema: config.outboxSchema,
        table: config.outboxTable,
        deadLetterTopic: config.deadLetterTopic,
        maxInFlightEvents: config.maxInFlightEvents,
        batchMaxEvents: config.batchMaxEvents,
        batchMaxBytes: config.batchMaxBytes,
        ...(await this.exactlyOnce()),
      },
      startLsn,
    );
    try {
      await connection.start();
      if (this.stopRequested) return;
      this.session = session;
      this.finished = null;
      this.deps.health.stream = 'streaming';
      this.deps.health.lastError = null;
      this.log.info({ slot: config.slot, from: formatLsn(startLsn) }, 'streaming');
      const stopHousekeeping = startHousekeeping(this.deps);
      try {
        await Promise.race([ended, this.stopped()]);
      } finally {
        await stopHousekeeping();
      }
      this.lastDurable = await (this.finished ??= session.finish());
      this.log.info(
        { durableLsn: formatLsn(this.lastDurable) },
        'stopped streaming; Kafka holds everything up to this LSN',
      );
    } catch (error) {
      this.lastDurable = session.tracker.durableLsn;
      await session.abandon();
      throw error;
    } finally {
      this.session = null;
      await connection.close();
    }
  }

  /**
   * Exactly-once: fence any earlier producer of our transactional id, then read the committed
   * checkpoint. Read again for every session: after a failure, only Kafka knows whether the
   * last transaction committed.
   */
  private async exactlyOnce(): Promise<Pick<SessionOptions, 'checkpoint' | 'checkpointRecord'>> {
    const { config, sink } = this.deps;
    if (config.delivery !== 'exactly-once') return { checkpoint: null };
    await sink.fence();
    await sink.ensureCompactedTopic(config.checkpointTopic);
    const value = await sink.readLatest(config.checkpointTopic, config.slot);
    const checkpoint = value ? decodeCheckpoint(value) : null;
    this.log.info(
      {
        checkpoint: checkpoint && {
          commitLsn: formatLsn(checkpoint.commitLsn),
          index: checkpoint.index,
        },
      },
      'exactly-once: resuming after the committed checkpoint',
    );
    return {
      checkpoint,
      checkpointRecord: (position) => ({
        topic: config.checkpointTopic,
        key: config.slot,
        value: encodeCheckpoint(config.slot, position),
        headers: {},
      }),
    };
  }

  private stopped(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopSignal.signal.aborted) resolve();
      else this.stopSignal.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  private async confirmedFlush(): Promise<Lsn> {
    const db = new pg.Client({ connectionString: this.deps.config.pgUrl });
    await connectOrExplain(db, { retriable: true });
    try {
      const slot = await ensureSlot(db, this.deps.config.slot, false);
      return slot.confirmedFlushLsn ?? INVALID_LSN;
    } finally {
      await db.end();
    }
  }
}
