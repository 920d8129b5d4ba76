/**
 * The relay: prepares Postgres (wal_level, publication, slot), then runs replication sessions
 * one after another, reconnecting with capped backoff after retriable failures (Postgres
 * restarts, lost connections, a slot held by another relay) until it is asked to stop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RelayConfig } from '../config/schema.ts';
import { errorMessage, RelayError, isRetriable } from '../domain/errors.ts';
import { Backoff } from '../domain/retry.ts';
import { formatLsn, INVALID_LSN, type Lsn } from '../domain/lsn.ts';
import type { EventEncoder } from '../encode/encoder.ts';
import type { Router } from '../route/router.ts';
import type { Logger } from '../ops/logger.ts';
import type { RelayMetrics } from '../ops/metrics.ts';
import type { HealthState, SlotHolder } from '../ops/health.ts';
import type { KafkaSink } from '../publish/kafka.ts';
import { ReplicationConnection } from '../source/replication-connection.ts';
import {
  checkPublication,
  checkWalLevel,
  ensureSlot,
  explainMissingPublication,
  lostSlotError,
  slotHistoryReason,
  outboxOid,
  slotHolder,
  checkOutboxColumns,
} from '../source/slot.ts';
import { outboxMapping } from '../config/outbox-mapping.ts';
import { openDb, resolveHost, withDb } from '../db/connect.ts';
import { startHousekeeping } from './housekeeping.ts';
import { startSlotHealth, type SlotHealthCheck } from './slot-health.ts';
import {
  checkpointKey,
  decodeCheckpoint,
  defaultTransactionalId,
  encodeCheckpoint,
  foreignCheckpoint,
  type Checkpoint,
  type CheckpointSource,
  type RecordedCheckpoint,
} from '../publish/checkpoint.ts';
import {
  judgeHistory,
  planResume,
  positionKey,
  type DurablePosition,
  type ServerIdentity,
  type TimelineHistory,
} from '../ack/resume.ts';
import { isUnknownTopic } from '../admin/offsets.ts';
import { createSlotWithSnapshot } from '../admin/snapshot.ts';
import type { Db } from '../db/client.ts';
import { SlotOwnership } from './slot-ownership.ts';
import { PositionStore } from '../publish/position-store.ts';
import { pipelineObserver } from './observer.ts';
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

const RECONNECT_BACKOFF = { initialMs: 500, maxMs: 30_000 };
/**
 * After the replication connection is lost, how long the records already read may still go to
 * Kafka (each request also under the slot lease, which ends 2 s after the last frame).
 */
const SALVAGE_MS = 1_000;

/** Postgres went away (restart, network); not a refusal, a lost slot or a bad frame. */
function isConnectionLoss(error: unknown): boolean {
  return error instanceof RelayError && error.code === 'PG_REPLICATION_LOST';
}

export class Relay {
  private readonly deps: RelayDeps;
  private readonly log: Logger;
  private stopRequested = false;
  private readonly stopSignal = new AbortController();
  private session: ReplicationSession | null = null;
  /** What Kafka held when the last session ended, and of which history: outlives Postgres restarts. */
  private durable: DurablePosition | null = null;
  private get lastDurable(): Lsn {
    return this.durable?.lsn ?? INVALID_LSN;
  }

  /** At-least-once: the durable position kept in Kafka, read once at the first session. */
  private readonly positions: PositionStore | null;
  private positionRead = false;
  private finished: Promise<Lsn> | null = null;
  /** The outbox table's OID at start: sessions follow it through a rename. */
  private outboxOid: number | null = null;
  /** host:port of the server this session streams from. */
  private host: string | null = null;
  /** The replication connection of the session streaming now. */
  private connection: ReplicationConnection | null = null;
  /** Set once the slot check saw the slot invalidated: the relay stops with it. */
  private fatal: RelayError | null = null;
  /** The periodic slot check, once started. */
  private slotHealth: SlotHealthCheck | null = null;
  /** Ends a wait (standby, backoff) early when the slot is found invalidated. */
  private readonly wake = new AbortController();

  constructor(deps: RelayDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ stage: 'relay' });
    const { config } = deps;
    this.positions =
      config.delivery === 'at-least-once' && config.positionIntervalMs > 0
        ? new PositionStore(
            deps.sink,
            {
              topic: config.checkpointTopic,
              slot: config.slot,
              intervalMs: config.positionIntervalMs,
            },
            deps.logger,
          )
        : null;
  }

  /** Runs until stop() or a non-retriable error (which it throws). */
  async run(): Promise<void> {
    try {
      await this.loop();
    } finally {
      await this.slotHealth?.stop();
    }
  }

  /**
   * The slot check runs from the first successful preparation (the slot exists from then on)
   * to the end of `run`, across sessions, standby and reconnections.
   */
  private startSlotHealth(): SlotHealthCheck {
    return startSlotHealth({
      ...this.deps,
      walsenderPid: () => (this.connection?.closed === false ? this.connection.walsenderPid : null),
      invalidated: (error) => this.invalidated(error),
    });
  }

  /**
   * PostgreSQL invalidated the slot: it never streams again, so whatever the relay is doing (a
   * session, a wait as standby or before a reconnection) ends, and run() throws the error.
   */
  private invalidated(error: RelayError): void {
    if (this.fatal || this.stopRequested) return;
    this.fatal = error;
    this.log.error({ err: error }, 'the slot check found the slot invalidated; stopping');
    this.connection?.abort(error);
    this.wake.abort();
  }

  private async loop(): Promise<void> {
    let ready = false;
    const backoff = new Backoff(RECONNECT_BACKOFF);
    while (!this.stopRequested) {
      const durableBefore = this.lastDurable;
      try {
        if (this.fatal) throw this.fatal;
        if (!ready) {
          await this.prepare();
          this.slotHealth ??= this.startSlotHealth();
          await this.deps.sink.connect();
          this.deps.health.producerConnected = true;
          ready = true;
        }
        await this.runSession();
      } catch (error) {
        if (this.stopRequested) break;
        if (this.fatal) throw this.fatal;
        if (!isRetriable(error)) throw await this.explain(error);
        if (error instanceof RelayError && error.code === 'PG_SLOT_BUSY') {
          await this.standBy(error);
          continue;
        }
        // A session that moved the durable position was healthy: a Postgres restart after hours
        // of streaming, or the second of two restarts in a minute, is retried promptly.
        if (this.lastDurable > durableBefore) backoff.reset();
        this.deps.health.stream = 'reconnecting';
        this.deps.health.postgresError = errorMessage(error);
        this.deps.metrics.reconnects.inc({ component: 'postgres' });
        const retryInMs = backoff.next();
        this.log.warn({ err: error, retryInMs }, 'replication session ended; reconnecting');
        await sleep(retryInMs, undefined, { signal: this.waits() }).catch(() => undefined);
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

  /**
   * Another relay streams from our slot: wait as its standby and try again soon. Postgres lets
   * go of the slot only when the holder's connection ends: at once when it stops or dies, after
   * its wal_sender_timeout when it is frozen or cut off. Who holds it is shown meanwhile.
   */
  private async standBy(error: RelayError): Promise<void> {
    const holder = await this.slotHolder();
    this.showHolder(holder);
    if (this.deps.health.stream !== 'standby') {
      this.log.info(
        { slot: this.deps.config.slot, reason: error.message, holder },
        'standing by: another relay streams from the slot',
      );
    }
    this.deps.health.stream = 'standby';
    this.deps.health.progress();
    await sleep(this.deps.config.standbyRetryMs, undefined, { signal: this.waits() }).catch(
      () => undefined,
    );
  }

  /** What ends a wait early: a stop, or the slot found invalidated. */
  private waits(): AbortSignal {
    return AbortSignal.any([this.stopSignal.signal, this.wake.signal]);
  }

  private async slotHolder(): Promise<SlotHolder | null> {
    const { config } = this.deps;
    try {
      return await withDb(config.pgUrl, 'relay', (db) => slotHolder(db, config.slot));
    } catch {
      return null; // only for show: the next try to stream says what is wrong
    }
  }

  private showHolder(holder: SlotHolder | null): void {
    const { health, metrics } = this.deps;
    health.slotHolder = holder;
    metrics.standbyHolderSince.reset();
    if (!holder) return;
    if (holder.since) {
      const labels = {
        pid: String(holder.pid ?? ''),
        application_name: holder.applicationName ?? '',
      };
      metrics.standbyHolderSince.set(labels, Date.parse(holder.since) / 1000);
    }
    if (holder.lagBytes !== null) metrics.slotLagBytes.set(holder.lagBytes);
  }

  /**
   * A RELAY_PG_URL with several hosts: each session starts on the first that fits
   * target_session_attrs, so after a failover the relay follows the promoted standby.
   */
  private async findHost(): Promise<void> {
    const host = await resolveHost(this.deps.config.pgUrl);
    if (this.host !== null && host !== this.host) {
      this.log.warn(
        { from: this.host, to: host },
        'PostgreSQL host changed: streaming from another server of RELAY_PG_URL',
      );
    }
    this.host = host;
  }

  private async prepare(): Promise<void> {
    const { config } = this.deps;
    const db = await openDb(config.pgUrl, 'relay', { retriable: true });
    try {
      await checkWalLevel(db);
      const target = {
        slot: config.slot,
        publication: config.publication,
        schema: config.outboxSchema,
        table: config.outboxTable,
      };
      await checkPublication(db, target);
      this.outboxOid = await outboxOid(db, target);
      await checkOutboxColumns(db, target, outboxMapping(config));
      const slot = await ensureSlot(
        db,
        config.slot,
        config.createSlot,
        () => this.refuseLostSlot(),
        config.snapshot === 'initial' ? () => this.createSlotWithSnapshot(db) : undefined,
      );
      if (slot.created && config.snapshot === 'never') {
        this.log.warn(
          { slot: config.slot, lsn: slot.confirmedFlushLsn && formatLsn(slot.confirmedFlushLsn) },
          'created the replication slot; rows written before it are not relayed (use replay)',
        );
      }
    } finally {
      await db.end();
    }
  }

  /**
   * RELAY_SNAPSHOT=initial: the rows already in the outbox, then the slot where they end. A
   * failure before the slot exists (Kafka, a crash) leaves no slot, so the next try snapshots
   * again: at-least-once, which is why exactly-once refuses this setting.
   */
  private async createSlotWithSnapshot(db: Db): Promise<Lsn> {
    const { config, sink, encoder, router } = this.deps;
    this.log.info({ slot: config.slot }, 'the slot is missing: publishing the outbox snapshot');
    await sink.connect(); // before the producer is otherwise needed; connecting again is harmless
    const result = await createSlotWithSnapshot({
      pgUrl: config.pgUrl,
      db,
      slot: config.slot,
      table: { schema: config.outboxSchema, table: config.outboxTable },
      sink,
      encoder,
      router,
      batchMaxEvents: config.batchMaxEvents,
      batchMaxBytes: config.batchMaxBytes,
    });
    const { sent, skipped } = result.published;
    const lsn = formatLsn(result.consistentPoint);
    this.log.warn(
      { slot: config.slot, lsn, sent, skipped, failover: result.failover },
      'created the replication slot after publishing the rows already in the outbox',
    );
    if (result.failoverError)
      this.log.warn({ slot: config.slot, err: result.failoverError }, 'could not turn failover on');
    return result.consistentPoint;
  }

  /**
   * Before creating a missing slot: a server on a later timeline, or a position of ours in
   * Kafka, says a relay streamed from this database before, and a new slot would skip the gap.
   */
  private async refuseLostSlot(): Promise<void> {
    const { config } = this.deps;
    const connection = this.replicationConnection();
    let identity: ServerIdentity;
    try {
      await connection.connect();
      identity = await connection.identify();
    } finally {
      await connection.close();
    }
    const history = {
      timeline: identity.timeline,
      kafkaKey: await this.recordedKey(identity),
      topic: config.checkpointTopic,
    };
    const reason = slotHistoryReason(history);
    if (reason !== null) throw lostSlotError(config.slot, reason);
  }

  /** The key of a position or checkpoint Kafka holds for this database and slot, or null. */
  private async recordedKey(identity: ServerIdentity): Promise<string | null> {
    const { config, sink } = this.deps;
    for (const key of [positionKey(identity, config.slot), checkpointKey(identity, config.slot)]) {
      try {
        if (await sink.readLatest(config.checkpointTopic, key)) return key;
      } catch (error) {
        if (isUnknownTopic(error)) return null;
        throw new RelayError(
          'KAFKA_CONNECT',
          `cannot read topic "${config.checkpointTopic}" to check that the missing slot "${config.slot}" may be created`,
          {
            cause: error,
            retriable: true,
            hint: 'Check RELAY_KAFKA_BROKERS and that Kafka is up.',
          },
        );
      }
    }
    return null;
  }

  /** A replication connection to the slot, with this relay's settings. */
  private replicationConnection(): ReplicationConnection {
    const { config } = this.deps;
    return new ReplicationConnection({
      connectionString: config.pgUrl,
      slot: config.slot,
      publication: config.publication,
      statusIntervalMs: config.statusIntervalMs,
      walSenderTimeoutMs: config.walSenderTimeoutMs,
      messages: config.messagePrefix !== '',
    });
  }

  private async runSession(): Promise<void> {
    const { config } = this.deps;
    await this.findHost();
    const connection = this.replicationConnection();
    const ended = new Promise<never>((_, reject) => connection.once('error', reject));
    ended.catch(() => undefined);
    // A connection opened and then failed before streaming is closed here, not leaked.
    const opened = await this.openSession(connection).catch(async (error: unknown) => {
      await connection.close();
      throw error;
    });
    const { identity, history, startLsn, session, lease } = opened;
    let stopTracking: (() => Promise<void>) | undefined;
    this.connection = connection;
    try {
      await connection.start();
      // The slot is ours from here on. What streams in waits until the session knows what
      // Kafka already holds, which exactly-once reads only now: a standby never fences the
      // relay it waits behind, and every zombie of ours is fenced before the read.
      connection.pause();
      if (this.stopRequested) return;
      this.session = session;
      this.finished = null;
      this.showHolder(null);
      session.open(await Promise.race([this.readCheckpoint(identity, history), ended]));
      this.deps.health.stream = 'streaming';
      this.deps.health.postgresError = null;
      this.slotHealth?.now();
      this.log.info({ slot: config.slot, from: formatLsn(startLsn) }, 'streaming');
      const stopHousekeeping = startHousekeeping(this.deps);
      stopTracking = this.positions?.track(identity, () => session.tracker.durableLsn);
      try {
        await Promise.race([ended, this.stopped()]);
      } finally {
        await stopHousekeeping();
      }
      this.durable = { identity, lsn: await (this.finished ??= session.finish()) };
      this.log.info(
        { durableLsn: formatLsn(this.lastDurable) },
        'stopped streaming; Kafka holds everything up to this LSN',
      );
    } catch (error) {
      if (isConnectionLoss(error)) await session.salvage(SALVAGE_MS);
      else await session.abandon();
      this.durable = { identity, lsn: session.tracker.durableLsn };
      throw error;
    } finally {
      await stopTracking?.();
      this.session = null;
      this.connection = null;
      await lease.close();
      await connection.close();
    }
  }

  /** Connects, finds where to resume, and builds the session (not streaming yet). */
  private async openSession(connection: ReplicationConnection) {
    const { config } = this.deps;
    await connection.connect();
    const identity = await connection.identify();
    // Needed to judge a position of an earlier timeline; read now: not while streaming.
    const history =
      identity.timeline > 1 ? await connection.timelineHistory(identity.timeline) : null;
    const startLsn = await this.resumePoint(identity, history);
    const lease = new SlotOwnership(config.pgUrl, config.slot, connection);
    const session = new ReplicationSession(
      {
        ...this.deps,
        observer: pipelineObserver(this.deps.metrics, this.deps.health),
        connection,
        fail: (error) => connection.abort(error),
        lease: lease.lease,
        slot: config.slot,
      },
      {
        schema: config.outboxSchema,
        table: config.outboxTable,
        outboxOid: this.outboxOid,
        deadLetterTopic: config.deadLetterTopic,
        maxInFlightEvents: config.maxInFlightEvents,
        batchMaxEvents: config.batchMaxEvents,
        batchMaxBytes: config.batchMaxBytes,
        skipBelow: startLsn,
        checkpointRecord: this.checkpointRecord(identity),
        tracing: { clientId: config.kafkaClientId, broker: config.kafkaBrokers[0] ?? '' },
        messagePrefix: config.messagePrefix === '' ? undefined : config.messagePrefix,
        mapping: outboxMapping(config),
      },
      startLsn,
    );
    return { identity, history, startLsn, session, lease };
  }

  /** Exactly-once: the checkpoint record sent with each batch, keyed by this database history. */
  private checkpointRecord(identity: ServerIdentity): SessionOptions['checkpointRecord'] {
    const { config } = this.deps;
    if (config.delivery !== 'exactly-once') return undefined;
    const key = checkpointKey(identity, config.slot);
    return (checkpoint) => ({
      topic: config.checkpointTopic,
      key,
      value: encodeCheckpoint(config.slot, { identity, checkpoint }),
      headers: {},
    });
  }

  /**
   * Exactly-once, once the slot is ours: fence every earlier producer of our transactional id
   * (a real InitProducerId, on a new producer), then read the committed checkpoint. Read again
   * for every session: after a failure, only Kafka knows whether the last transaction committed.
   */
  private async readCheckpoint(
    server: ServerIdentity & { flushLsn: Lsn },
    history: TimelineHistory | null,
  ): Promise<Checkpoint | null> {
    const { config, sink } = this.deps;
    if (config.delivery !== 'exactly-once') return null;
    await sink.fence(config.transactionalId || defaultTransactionalId(server, config.slot));
    await sink.ensureCompactedTopic(config.checkpointTopic);
    const key = checkpointKey(server, config.slot);
    const source = { topic: config.checkpointTopic, key, slot: config.slot };
    const value = await sink.readLatest(config.checkpointTopic, key);
    const recorded = value ? decodeCheckpoint(value, source) : null;
    const checkpoint = recorded && this.judgeCheckpoint(recorded, server, history, source);
    this.log.info(
      {
        checkpoint: checkpoint && {
          commitLsn: formatLsn(checkpoint.commitLsn),
          index: checkpoint.index,
        },
        key,
      },
      'exactly-once: resuming after the committed checkpoint',
    );
    return checkpoint;
  }

  /**
   * The part of a checkpoint this database's history shares (see ack/resume.ts). One of another
   * history is never used to skip events: it stops the relay, or is ignored when the operator
   * says so; one of an ancestor timeline counts up to that timeline's switch point.
   */
  private judgeCheckpoint(
    recorded: RecordedCheckpoint,
    server: ServerIdentity & { flushLsn: Lsn },
    history: TimelineHistory | null,
    source: CheckpointSource,
  ): Checkpoint | null {
    const { checkpoint, identity } = recorded;
    const verdict = judgeHistory({ identity, lsn: checkpoint.commitLsn }, server, history);
    if (verdict.kind === 'same') return checkpoint;
    if (verdict.kind === 'capped') {
      this.log.warn(
        {
          checkpoint: formatLsn(checkpoint.commitLsn),
          timeline: identity.timeline,
          switchLsn: formatLsn(verdict.lsn),
          serverTimeline: server.timeline,
        },
        "the checkpoint was written on an earlier timeline past the point where this server's history left it (a standby was promoted without the old primary's last transactions): skipping only what committed before the switch point; Kafka also holds events this database does not have",
      );
      return { commitLsn: verdict.lsn, index: -1 };
    }
    if (this.deps.config.checkpointMismatch === 'ignore') {
      this.log.warn(
        { reason: verdict.reason, key: source.key },
        'ignoring a checkpoint of another database history (RELAY_CHECKPOINT_MISMATCH=ignore): resuming from the slot',
      );
      return null;
    }
    throw foreignCheckpoint(recorded, server, verdict.reason, source);
  }

  /** A fatal error, explained further where a look at the catalog can say more. */
  private async explain(error: unknown): Promise<unknown> {
    const { config } = this.deps;
    const target = {
      slot: config.slot,
      publication: config.publication,
      schema: config.outboxSchema,
      table: config.outboxTable,
    };
    try {
      return await withDb(config.pgUrl, 'relay', (db) =>
        explainMissingPublication(db, error, target),
      );
    } catch {
      return error;
    }
  }

  private stopped(): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopSignal.signal.aborted) resolve();
      else this.stopSignal.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /**
   * The later of the slot's position and what Kafka held when the last session ended (see
   * ack/resume.ts): after a Postgres restart the slot can be behind, and what Postgres streams
   * again below the durable position is dropped, not sent twice.
   */
  private async resumePoint(
    server: ServerIdentity & { flushLsn: Lsn },
    history: TimelineHistory | null,
  ): Promise<Lsn> {
    if (!this.durable && !this.positionRead) this.durable = await this.readPosition(server);
    const slotLsn = await this.confirmedFlush();
    const plan = planResume(slotLsn, server, this.durable, history);
    const positions = {
      slot: formatLsn(slotLsn),
      durable: this.durable && formatLsn(this.durable.lsn),
    };
    if (plan.ignored) {
      this.log.warn(
        { ...positions, reason: plan.ignored },
        'not resuming from the durable position of the last session: it belongs to another database history; resuming from the slot (duplicates possible, no gap)',
      );
    } else if (plan.capped) {
      this.log.warn(
        {
          ...positions,
          timeline: plan.capped.timeline,
          switchLsn: formatLsn(plan.capped.switchLsn),
        },
        "the durable position is past where its timeline left this server's history (a promoted standby): skipping only what committed before the switch point",
      );
    } else if (plan.startLsn > slotLsn) {
      this.log.warn(
        positions,
        'Postgres offers the slot from before what Kafka already holds (it restarted and lost its latest confirmation); skipping what Kafka holds',
      );
    }
    return plan.startLsn;
  }

  /** Once per process: the position an earlier relay left in Kafka. Unreadable is not fatal. */
  private async readPosition(server: ServerIdentity): Promise<DurablePosition | null> {
    if (!this.positions) return null;
    try {
      const position = await this.positions.read(server);
      this.positionRead = true;
      return position;
    } catch (error) {
      this.log.warn(
        { err: error },
        'cannot read the durable position from Kafka; resuming from the slot',
      );
      return null;
    }
  }

  private async confirmedFlush(): Promise<Lsn> {
    const { config } = this.deps;
    const slot = await withDb(config.pgUrl, 'relay', (db) => ensureSlot(db, config.slot, false), {
      retriable: true,
    });
    return slot.confirmedFlushLsn ?? INVALID_LSN;
  }
}
