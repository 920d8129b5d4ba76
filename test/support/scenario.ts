/**
 * One fault scenario: a fresh outbox, slot and topics; relays run through the real CLI; a
 * planned load; and, at the end, everything consumed from the beginning and counted.
 */
import pg from 'pg';
import { consumeAll, decodeAll } from './consume.ts';
import { countDelivery, type Delivered, type DeliveryCount } from './delivery.ts';
import {
  dropOutbox,
  prepareOutbox,
  services,
  uniqueNames,
  type OutboxNames,
  type TestEvent,
} from './fixtures.ts';
import { metricTotal, scrape } from './metrics.ts';
import { relayEnv, type RelayChild } from './relay.ts';

export interface Scenario {
  names: OutboxNames;
  env: Record<string, string>;
  pgUrl: string;
  brokers: string[];
  pool: pg.Pool;
  /** Drops the slot and publication and closes the pool. */
  cleanup: () => Promise<void>;
}

export async function scenario(
  label: string,
  extraEnv: Record<string, string> = {},
  options: { slot?: boolean } = {},
): Promise<Scenario> {
  const { pgUrl, kafkaBrokers } = await services();
  const names = uniqueNames(label);
  await prepareOutbox(pgUrl, names, options);
  const pool = new pg.Pool({ connectionString: pgUrl, max: 2 });
  pool.on('error', () => undefined); // Postgres restarts are part of some scenarios
  return {
    names,
    env: relayEnv(pgUrl, kafkaBrokers, names, extraEnv),
    pgUrl,
    brokers: kafkaBrokers,
    pool,
    cleanup: async () => {
      await pool.end();
      await dropOutbox(pgUrl, names);
    },
  };
}

/** Events the relay's /metrics says Kafka acknowledged (0 while it cannot be scraped). */
export async function published(relay: RelayChild): Promise<number> {
  const text = await scrape(await relay.httpPort).catch(() => '');
  return metricTotal(text, 'outbox_relay_events_published_total');
}

/** Consumes every topic of the scenario from the beginning and counts lost, duplicated, reordered. */
export async function readBack(
  s: Scenario,
  events: readonly TestEvent[],
  timeoutMs = 120_000,
  isolation: 'read_committed' | 'read_uncommitted' = 'read_uncommitted',
): Promise<DeliveryCount> {
  const topics = [...new Set(events.map((e) => s.names.topic(e.aggregateType)))];
  const records = decodeAll(
    await consumeAll({
      brokers: s.brokers,
      topics,
      atLeast: events.length,
      distinctEvents: true,
      timeoutMs,
      isolation,
    }),
  );
  const delivered: Delivered[] = records.map((r) => ({
    id: r.event.event_id,
    aggregateId: r.event.aggregate_id,
    seq: (JSON.parse(r.event.payload) as { seq: number }).seq,
  }));
  return countDelivery(events, delivered);
}

export async function stopRelay(relay: RelayChild): Promise<number | null> {
  if (relay.process.exitCode === null && relay.process.signalCode === null)
    relay.process.kill('SIGTERM');
  return relay.exited;
}
