/**
 * At-least-once: the relay's durable position kept in Kafka's compacted checkpoint topic, so
 * that a relay restarted while Postgres lost its slot's latest confirmation (a crash, or a fast
 * restart before PostgreSQL 17) still resumes from what Kafka holds. Written every interval
 * while it moves; only ever a position Kafka has acknowledged everything before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  decodePosition,
  encodePosition,
  positionKey,
  type DurablePosition,
  type ServerIdentity,
} from '../ack/resume.ts';
import type { Lsn } from '../domain/lsn.ts';
import type { Logger } from '../ops/logger.ts';
import type { KafkaSink } from './kafka.ts';

export interface PositionStoreOptions {
  topic: string;
  slot: string;
  intervalMs: number;
}

/** How long a clean stop waits for the last write; the position a tick earlier is also safe. */
const LAST_WRITE_TIMEOUT_MS = 2_000;

export class PositionStore {
  private readonly sink: KafkaSink;
  private readonly options: PositionStoreOptions;
  private readonly log: Logger;
  private written: Lsn | null = null;
  private failing = false;

  constructor(sink: KafkaSink, options: PositionStoreOptions, logger: Logger) {
    this.sink = sink;
    this.options = options;
    this.log = logger.child({ stage: 'position' });
  }

  /** The position last written for this database history and slot, or null. */
  async read(identity: ServerIdentity): Promise<DurablePosition | null> {
    await this.sink.ensureCompactedTopic(this.options.topic);
    const key = positionKey(identity, this.options.slot);
    const value = await this.sink.readLatest(this.options.topic, key);
    const position = value && decodePosition(value, this.options.slot);
    if (value && !position)
      this.log.warn(
        { topic: this.options.topic, key },
        'ignoring a record that is not a durable position',
      );
    if (position) this.written = position.lsn;
    return position;
  }

  /** Writes `current()` every interval while it moves; the returned stop writes it once more. */
  track(identity: ServerIdentity, current: () => Lsn): () => Promise<void> {
    const write = () => this.write(identity, current());
    const timer = setInterval(() => void write(), this.options.intervalMs);
    timer.unref();
    return async () => {
      clearInterval(timer);
      await Promise.race([write(), sleep(LAST_WRITE_TIMEOUT_MS)]);
    };
  }

  private async write(identity: ServerIdentity, lsn: Lsn): Promise<void> {
    if (this.written !== null && lsn <= this.written) return;
    try {
      await this.sink.sendAside({
        topic: this.options.topic,
        key: positionKey(identity, this.options.slot),
        value: encodePosition({ identity, lsn }, this.options.slot),
        headers: {},
      });
      if (this.written === null || lsn > this.written) this.written = lsn;
      if (this.failing) this.log.info('writing the durable position to Kafka again');
      this.failing = false;
    } catch (error) {
      // Not fatal: events still flow; a restart then falls back to the slot (duplicates).
      if (!this.failing)
        this.log.warn({ err: error }, 'cannot write the durable position to Kafka; retrying');
      this.failing = true;
    }
  }
}
