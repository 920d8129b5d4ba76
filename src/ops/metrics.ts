/**
 * Prometheus metrics through prom-client, on a registry of our own (not the global default) so
 * that several relays can live in one process, as they do in tests.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface RelayMetrics {
  readonly registry: Registry;
  readonly eventsPublished: Counter<'topic'>;
  readonly bytesPublished: Counter<'topic'>;
  readonly publishErrors: Counter;
  readonly deadLetters: Counter<'reason'>;
  readonly reconnects: Counter<'component'>;
  readonly inFlightEvents: Gauge;
  readonly slotLagBytes: Gauge;
  readonly slotLagSeconds: Gauge;
  readonly partitionCountChanges: Counter<'topic'>;
  readonly durableLsn: Gauge;
  readonly standbyHolderSince: Gauge;
  readonly skippedDelivered: Counter<'by'>;
  readonly publishLatency: Histogram;
  readonly slotWalStatus: Gauge<'status'>;
  readonly slotSafeWalSize: Gauge;
  readonly slotConflicting: Gauge;
  readonly slotInvalidated: Gauge<'reason'>;
  readonly slotHeld: Gauge;
  readonly slotCheckErrors: Counter;
  /**
   * Where `inFlightEvents` reads its value at each scrape: the current session's count of events
   * read and not yet acknowledged, which changes with every event.
   */
  countInFlight(read: () => number): void;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): RelayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: 'outbox_relay_' });
  const registers = [registry];
  let readInFlight: (() => number) | null = null;
  return {
    registry,
    eventsPublished: new Counter({
      name: 'outbox_relay_events_published_total',
      help: 'Events acknowledged by Kafka, per topic (dead letters included, under their topic).',
      labelNames: ['topic'],
      registers,
    }),
    bytesPublished: new Counter({
      name: 'outbox_relay_bytes_published_total',
      help: 'Record value bytes acknowledged by Kafka, per topic.',
      labelNames: ['topic'],
      registers,
    }),
    publishErrors: new Counter({
      name: 'outbox_relay_publish_errors_total',
      help: 'Failed Kafka produce attempts; each is retried, nothing is dropped.',
      registers,
    }),
    deadLetters: new Counter({
      name: 'outbox_relay_dead_letters_total',
      help: 'Outbox rows sent to the dead-letter topic, per reason.',
      labelNames: ['reason'],
      registers,
    }),
    reconnects: new Counter({
      name: 'outbox_relay_reconnects_total',
      help: 'Reconnections after a lost Postgres replication connection or Kafka producer.',
      labelNames: ['component'],
      registers,
    }),
    inFlightEvents: new Gauge({
      name: 'outbox_relay_in_flight_events',
      help: 'Events read from the WAL and not yet acknowledged by Kafka.',
      registers,
      collect() {
        if (readInFlight) this.set(readInFlight());
      },
    }),
    slotLagBytes: new Gauge({
      name: 'outbox_relay_slot_lag_bytes',
      help: "WAL bytes between the server's position and the position Kafka holds (confirmed to the slot).",
      registers,
    }),
    slotLagSeconds: new Gauge({
      name: 'outbox_relay_slot_lag_seconds',
      help: 'Age of the oldest committed transaction that Kafka does not hold yet; 0 when caught up.',
      registers,
    }),
    partitionCountChanges: new Counter({
      name: 'outbox_relay_partition_count_changes_total',
      help: 'Topics seen with a partition count other than when first used: keyed order across the change is broken.',
      labelNames: ['topic'],
      registers,
    }),
    durableLsn: new Gauge({
      name: 'outbox_relay_durable_lsn',
      help: 'Last LSN reported to Postgres as durable in Kafka, as a number (byte position).',
      registers,
    }),
    standbyHolderSince: new Gauge({
      name: 'outbox_relay_standby_slot_holder_start_time_seconds',
      help: 'On a standby: when the walsender of the process that holds the slot started (Unix seconds), labelled with its pid and application_name; absent while this relay streams. With outbox_relay_slot_lag_bytes it says who streams and how far behind it is.',
      labelNames: ['pid', 'application_name'],
      registers,
    }),
    skippedDelivered: new Counter({
      name: 'outbox_relay_skipped_already_delivered_total',
      help: 'Outbox events Postgres streamed again that Kafka already held, not sent again: by the durable position (after a Postgres restart) or by the exactly-once checkpoint.',
      labelNames: ['by'],
      registers,
    }),
    publishLatency: new Histogram({
      name: 'outbox_relay_publish_latency_seconds',
      help: "Time from the database commit to Kafka's acknowledgement.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    slotWalStatus: new Gauge({
      name: 'outbox_relay_slot_wal_status',
      help: "The slot's wal_status at the last check: 1 for the current one (reserved, extended, unreserved, lost), 0 for the others. unreserved: PostgreSQL may remove WAL the slot needs at the next checkpoint; lost: it did, and the slot is invalidated.",
      labelNames: ['status'],
      registers,
    }),
    slotSafeWalSize: new Gauge({
      name: 'outbox_relay_slot_safe_wal_size_bytes',
      help: 'WAL that can still be written before the slot is lost (pg_replication_slots.safe_wal_size); NaN when max_slot_wal_keep_size is -1 (unlimited: the disk is the limit).',
      registers,
    }),
    slotConflicting: new Gauge({
      name: 'outbox_relay_slot_conflicting',
      help: 'pg_replication_slots.conflicting at the last check (PostgreSQL 16+; 0 before): 1 once the slot is invalidated by a conflict (on 16, by any invalidation).',
      registers,
    }),
    slotInvalidated: new Gauge({
      name: 'outbox_relay_slot_invalidated',
      help: '1, labelled with the reason (wal_removed, idle_timeout, rows_removed, wal_level_insufficient), once PostgreSQL invalidated the slot: the relay stops with PG_SLOT_INVALIDATED; 0 while the slot is valid.',
      labelNames: ['reason'],
      registers,
    }),
    slotHeld: new Gauge({
      name: 'outbox_relay_slot_held',
      help: "1 when the slot's active_pid is this relay's walsender at the last check, 0 otherwise (a standby, reconnecting, or another process holds it).",
      registers,
    }),
    slotCheckErrors: new Counter({
      name: 'outbox_relay_slot_check_errors_total',
      help: 'Slot health checks that failed (Postgres unreachable, the slot missing); /readyz lists the check as stale after three intervals without success.',
      registers,
    }),
    countInFlight(read) {
      readInFlight = read;
    },
  };
}
