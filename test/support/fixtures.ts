/**
 * Fixtures for tests against the real services: unique names per test, the outbox prepared by
 * the relay's own migrator, events written in transactions, and cleanup of slots.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { attachServices, type Services } from '../../scripts/services/index.ts';
import { loadMigrations, migrate } from '../../src/db/migrator.ts';
import { MIGRATIONS_DIR } from '../../src/db/paths.ts';
import { quoteIdent } from '../../src/db/sql.ts';
import { ensureSlot } from '../../src/source/slot.ts';

let shared: Promise<Services> | undefined;

/** The services of this test run (shared by every test in the process). */
export function services(): Promise<Services> {
  shared ??= attachServices();
  return shared;
}

export interface OutboxNames {
  readonly id: string;
  readonly schema: string;
  readonly table: string;
  readonly publication: string;
  readonly slot: string;
  /** Topic template unique to this test. */
  readonly topicTemplate: string;
  readonly deadLetterTopic: string;
  topic(aggregateType: string): string;
}

export function uniqueNames(label: string): OutboxNames {
  const id = `${label}_${randomUUID().slice(0, 8)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return {
    id,
    schema: 'public',
    table: `outbox_${id}`,
    publication: `pub_${id}`,
    slot: `slot_${id}`,
    topicTemplate: `t.${id}.{aggregateType}`,
    deadLetterTopic: `t.${id}.deadletter`,
    topic: (aggregateType) => `t.${id}.${aggregateType}`,
  };
}

/**
 * Creates table, publication and slot with the relay's own migrations: all of them, or those
 * numbered below `before` (an outbox as an older release left it).
 */
export async function prepareOutbox(
  pgUrl: string,
  names: OutboxNames,
  options: { before?: number; slot?: boolean } = {},
): Promise<void> {
  const target = { schema: names.schema, table: names.table, publication: names.publication };
  const db = new pg.Client({ connectionString: pgUrl });
  await db.connect();
  try {
    const migrations = await loadMigrations(MIGRATIONS_DIR, target);
    const before = options.before ?? Infinity;
    await migrate(
      db,
      migrations.filter((m) => m.version < before),
      target,
    );
    if (options.slot !== false) await ensureSlot(db, names.slot, true);
  } finally {
    await db.end();
  }
}

/** Drops the test's slot (waiting for a relay to let go of it) and publication. */
export async function dropOutbox(pgUrl: string, names: OutboxNames): Promise<void> {
  const db = new pg.Client({ connectionString: pgUrl });
  await db.connect();
  try {
    for (let i = 0; i < 50; i++) {
      const { rows } = await db.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [names.slot],
      );
      if (!rows[0]) break;
      if (!rows[0].active) {
        await db.query('SELECT pg_drop_replication_slot($1)', [names.slot]);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await db.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(names.publication)}`);
  } finally {
    await db.end();
  }
}

export interface TestEvent {
  id: string;
  aggregateType: string;
  aggregateId: string;
  eventType: string;
  /** Position of this event among its aggregate's events, from 0: the order to check. */
  seq: number;
  payload: Record<string, unknown>;
}

/**
 * Plans `total` events over `aggregates` aggregates, in transactions whose sizes cycle through
 * `sizes`. Deterministic, so a failure can be replayed.
 */
export function planEvents(options: {
  total: number;
  aggregates: number;
  sizes: readonly number[];
  aggregateTypes?: readonly string[];
}): TestEvent[][] {
  const types = options.aggregateTypes ?? ['order', 'customer', 'invoice'];
  const nextSeq = new Map<string, number>();
  const transactions: TestEvent[][] = [];
  let random = 42;
  // A 32-bit LCG in integer arithmetic (a float product would pass 2^53 and lose the low bits);
  // its high bits are the well-distributed ones.
  const next = () => (random = (Math.imul(random, 1103515245) + 12345) >>> 0) >>> 8;
  let written = 0;
  for (let t = 0; written < options.total; t++) {
    const size = Math.min(
      options.sizes[t % options.sizes.length] as number,
      options.total - written,
    );
    const tx: TestEvent[] = [];
    for (let i = 0; i < size; i++) {
      const n = next() % options.aggregates;
      const aggregateId = `agg-${n}`;
      const seq = nextSeq.get(aggregateId) ?? 0;
      nextSeq.set(aggregateId, seq + 1);
      const aggregateType = types[n % types.length] as string;
      const payload = {
        seq,
        n,
        big: 12345678901234567890n.toString(),
        note: `event ${written + i}`,
      };
      tx.push({
        id: randomUUID(),
        aggregateType,
        aggregateId,
        eventType: `${aggregateType}.changed`,
        seq,
        payload,
      });
    }
    written += size;
    transactions.push(tx);
  }
  return transactions;
}

/** Inserts each planned transaction as one database transaction, in order. */
export async function writeTransactions(
  pool: pg.Pool,
  names: OutboxNames,
  transactions: readonly TestEvent[][],
): Promise<void> {
  const table = `${quoteIdent(names.schema)}.${quoteIdent(names.table)}`;
  const client = await pool.connect();
  try {
    // The throwaway cluster commits asynchronously for speed; a test that crashes Postgres must
    // not lose a transaction it counts as written, so its own commits wait for the WAL write.
    await client.query('SET synchronous_commit = on');
    for (const tx of transactions) {
      await client.query('BEGIN');
      await insertEvents(client, table, tx);
      await client.query('COMMIT');
    }
  } finally {
    client.release();
  }
}

/** Inserts the events as outbox rows of the open transaction; `table` is quoted already. */
export async function insertEvents(
  client: pg.ClientBase,
  table: string,
  tx: readonly TestEvent[],
): Promise<void> {
  await client.query(
    `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload, headers)
     SELECT id::uuid, at, ai, et, p::jsonb, '{"source":"test"}'::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, at, ai, et, p)`,
    [
      tx.map((e) => e.id),
      tx.map((e) => e.aggregateType),
      tx.map((e) => e.aggregateId),
      tx.map((e) => e.eventType),
      tx.map((e) => JSON.stringify(e.payload)),
    ],
  );
}
