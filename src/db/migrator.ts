/**
 * Applies migrations/NNNN_name.sql in order, each in its own transaction, under an advisory
 * lock, recording each in a table; running it twice does no harm. Files are immutable once
 * released: a changed checksum of an applied file is an error, not a silent re-run.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from './client.ts';
import { RelayError } from '../domain/errors.ts';
import { quoteIdent, quoteLiteral } from './sql.ts';

export interface MigrationTarget {
  schema: string;
  table: string;
  publication: string;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: string[];
}

// Any constant works; it only has to be the same for every relay and differ from the app's own.
const MIGRATION_LOCK_KEY = 0x0ba1_7e1a;
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function renderMigration(template: string, target: MigrationTarget): string {
  const qualified = (name: string) => `${quoteIdent(target.schema)}.${quoteIdent(name)}`;
  const txSeq = `${target.table}_tx_seq`;
  const values: Record<string, string> = {
    schema: quoteIdent(target.schema),
    table: quoteIdent(target.table),
    table_created_at_index: quoteIdent(`${target.table}_created_at_idx`),
    tx_seq_sequence: quoteIdent(txSeq),
    /** Literals of qualified names, for ::regclass. */
    table_regclass: quoteLiteral(qualified(target.table)),
    tx_seq_sequence_regclass: quoteLiteral(qualified(txSeq)),
    publication_literal: quoteLiteral(target.publication),
    schema_literal: quoteLiteral(target.schema),
    table_literal: quoteLiteral(target.table),
  };
  return template.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`unknown placeholder ${whole} in a migration`);
    return value;
  });
}

export async function loadMigrations(
  directory: string,
  target: MigrationTarget,
): Promise<Migration[]> {
  const files = (await readdir(directory)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match)
      throw new RelayError('MIGRATION', `migration file name "${file}" is not NNNN_name.sql`);
    const template = await readFile(join(directory, file), 'utf8');
    const checksum = createHash('sha256').update(template).digest('hex');
    migrations.push({
      version: Number(match[1]),
      name: file,
      sql: renderMigration(template, target),
      checksum,
    });
  }
  return migrations;
}

export async function migrate(
  db: Db,
  migrations: Migration[],
  target: MigrationTarget,
): Promise<MigrationResult> {
  const history = `${quoteIdent(target.schema)}.${quoteIdent(`${target.table}_relay_migrations`)}`;
  await db.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(target.schema)}`);
    await db.query(
      `CREATE TABLE IF NOT EXISTS ${history} (version int PRIMARY KEY, name text NOT NULL,
         checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = await db.query<{ version: number; checksum: string; name: string }>(
      `SELECT version, checksum, name FROM ${history}`,
    );
    const applied = new Map(done.rows.map((r) => [r.version, r]));
    const result: MigrationResult = { applied: [], alreadyApplied: [] };
    for (const migration of migrations) {
      const previous = applied.get(migration.version);
      if (previous) {
        if (previous.checksum !== migration.checksum) {
          throw new RelayError(
            'MIGRATION',
            `migration ${migration.name} changed after it was applied`,
            {
              hint: 'Migrations are immutable: restore the file and add a new numbered migration instead.',
            },
          );
        }
        result.alreadyApplied.push(migration.name);
        continue;
      }
      await applyOne(db, migration, history);
      result.applied.push(migration.name);
    }
    return result;
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}

async function applyOne(db: Db, migration: Migration, history: string): Promise<void> {
  await db.query('BEGIN');
  try {
    await db.query(migration.sql);
    await db.query(`INSERT INTO ${history} (version, name, checksum) VALUES ($1, $2, $3)`, [
      migration.version,
      migration.name,
      migration.checksum,
    ]);
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK');
    throw new RelayError(
      'MIGRATION',
      `migration ${migration.name} failed: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'Nothing of this migration was applied; fix the cause and run migrate again.',
      },
    );
  }
}

/**
 * Whether `migrate` may create and alter the outbox table: only a table it created (its
 * migration history says so) or none yet. An existing table of someone else's (Debezium's
 * outbox, say) gets only the publication and the slot: its owner's migrations own its shape.
 */
export async function ownsOutboxTable(db: Db, target: MigrationTarget): Promise<boolean> {
  const table = `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`;
  const history = `${quoteIdent(target.schema)}.${quoteIdent(`${target.table}_relay_migrations`)}`;
  const { rows } = await db.query<{ table_found: boolean; history_found: boolean }>(
    'SELECT to_regclass($1) IS NOT NULL AS table_found, to_regclass($2) IS NOT NULL AS history_found',
    [table, history],
  );
  const row = rows[0];
  if (!row?.table_found) return true;
  if (!row.history_found) return false;
  const applied = await db.query(`SELECT 1 FROM ${history} WHERE version = 1`);
  return applied.rows.length > 0;
}

/**
 * The publication alone (inserts only) on an existing table the relay does not own; nothing is
 * recorded in a migration history. Returns whether it was created (false: it existed).
 */
export async function ensurePublication(db: Db, target: MigrationTarget): Promise<boolean> {
  await db.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    const found = await db.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
      target.publication,
    ]);
    if (found.rows.length > 0) return false;
    const table = `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`;
    const exists = await db.query('SELECT to_regclass($1) IS NOT NULL AS found', [table]);
    if ((exists.rows[0] as { found?: boolean } | undefined)?.found !== true) {
      throw new RelayError(
        'MIGRATION',
        `there is no table ${target.schema}.${target.table} to publish: with RELAY_OUTBOX_LAYOUT or RELAY_COLUMN_* naming another layout than the relay's, migrate creates only the publication and the slot`,
        {
          hint: 'Create the outbox table first (your own migrations, as for Debezium), or check RELAY_OUTBOX_SCHEMA / RELAY_OUTBOX_TABLE.',
        },
      );
    }
    await db.query(
      `CREATE PUBLICATION ${quoteIdent(target.publication)} FOR TABLE ` +
        `${quoteIdent(target.schema)}.${quoteIdent(target.table)} WITH (publish = 'insert')`,
    );
    return true;
  } catch (error) {
    if (error instanceof RelayError) throw error;
    throw new RelayError(
      'MIGRATION',
      `cannot create publication ${target.publication}: ${(error as Error).message}`,
      {
        cause: error,
        hint: 'The role in RELAY_PG_URL must own the outbox table (or be superuser) to publish it.',
      },
    );
  } finally {
    await db.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
  }
}
