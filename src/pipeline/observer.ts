/**
 * What the pipeline tells operators, said as facts about its work. The session reports them and
 * does not know which metric or health field each one moves; `pipelineObserver` does.
 *
 * Every call is off the per-event path except `received` (one per frame) and the latency of each
 * acknowledged event: counters move once per transaction or per Kafka request, and the number of
 * events in flight is read when metrics are scraped.
 */
import type { BadRowReason } from '../domain/bad-row-reason.ts';
import { errorMessage } from '../domain/errors.ts';
import type { Lsn } from '../domain/lsn.ts';
import type { HealthState } from '../ops/health.ts';
import type { RelayMetrics } from '../ops/metrics.ts';
import type { PendingRecord } from '../publish/publisher.ts';

/** Why events Postgres streamed again were not sent: Kafka already held them. */
export type SkippedBy = 'durable-position' | 'checkpoint';

export interface PipelineObserver {
  /** Postgres sent a frame (a message or a keepalive): the replication loop makes progress. */
  received(): void;
  /** How to count the events read and not yet acknowledged by Kafka, whenever asked. */
  countInFlight(read: () => number): void;
  /**
   * The server's WAL position against the one Kafka holds (the one confirmed to the slot), with
   * the commit time of the oldest transaction Kafka does not hold yet (null when none).
   */
  positions(serverLsn: Lsn, durableLsn: Lsn, oldestOpenCommitMicros: bigint | null): void;
  /** A transaction's events that Kafka already held, dropped rather than sent again. */
  skipped(by: SkippedBy, events: number): void;
  /** A row went to the dead-letter topic instead of its own. */
  deadLettered(reason: BadRowReason): void;
  /** Kafka acknowledged a request's records; `oldestOpenCommitMicros` as for `positions`. */
  published(records: readonly PendingRecord[], oldestOpenCommitMicros: bigint | null): void;
  /** A Kafka request failed: it is retried, or the session ends. */
  publishFailed(error: unknown): void;
}

/** The observer that keeps the relay's Prometheus metrics and its health state. */
export function pipelineObserver(metrics: RelayMetrics, health: HealthState): PipelineObserver {
  const lagSeconds = (oldestOpenCommitMicros: bigint | null) => {
    const lagMicros =
      oldestOpenCommitMicros === null ? 0n : BigInt(Date.now()) * 1000n - oldestOpenCommitMicros;
    metrics.slotLagSeconds.set(Math.max(0, Number(lagMicros) / 1e6));
  };
  return {
    received: () => health.progress(),
    countInFlight: (read) => metrics.countInFlight(read),
    positions(serverLsn, durableLsn, oldestOpenCommitMicros) {
      const lag = serverLsn > durableLsn ? serverLsn - durableLsn : 0n;
      metrics.slotLagBytes.set(Number(lag));
      metrics.durableLsn.set(Number(durableLsn));
      lagSeconds(oldestOpenCommitMicros);
    },
    skipped: (by, events) => metrics.skippedDelivered.inc({ by }, events),
    deadLettered: (reason) => metrics.deadLetters.inc({ reason }),
    published(records, oldestOpenCommitMicros) {
      countPublished(metrics, records);
      health.progress();
      health.producerConnected = true;
      health.kafkaError = null;
      lagSeconds(oldestOpenCommitMicros);
    },
    publishFailed(error) {
      metrics.publishErrors.inc();
      health.progress(); // still trying: alive, but not ready
      health.producerConnected = false;
      health.kafkaError = errorMessage(error);
    },
  };
}

/** Latency per event; the per-topic counters once per request. */
function countPublished(metrics: RelayMetrics, records: readonly PendingRecord[]): void {
  const nowMicros = BigInt(Date.now()) * 1000n;
  const byTopic = new Map<string, { events: number; bytes: number }>();
  for (const record of records) {
    const totals = byTopic.get(record.topic) ?? { events: 0, bytes: 0 };
    totals.events++;
    totals.bytes += record.value.length;
    byTopic.set(record.topic, totals);
    metrics.publishLatency.observe(Number(nowMicros - record.commitTimeMicros) / 1e6);
  }
  for (const [topic, totals] of byTopic) {
    metrics.eventsPublished.inc({ topic }, totals.events);
    metrics.bytesPublished.inc({ topic }, totals.bytes);
  }
}
