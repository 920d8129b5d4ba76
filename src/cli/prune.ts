/** `outbox-relay prune`: retention, deleting only rows the slot has confirmed. */
import { Command } from 'commander';
import { RelayError } from '../domain/errors.ts';
import { formatRetention, pruneOnce, pruneTargetFrom, type PruneReport } from '../admin/prune.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';
import { openDb } from '../db/connect.ts';

const DEFAULT_WAIT_MS = '30000';

type PruneOptions = {
  readonly yes?: true;
  readonly dryRun?: true;
  readonly json?: true;
  readonly waitMs: string;
};

const HELP = `
Which rows go: created_at older than RELAY_RETENTION, and inserted by a transaction that the
relay's slot has confirmed. prune notes the oldest transaction still in progress and writes a
tiny WAL message; once the slot's confirmed_flush_lsn passes that message, every older
transaction is in Kafka, and only its rows are deleted. So prune needs the relay streaming
from RELAY_SLOT (it waits up to --wait-ms for it), and a long-running transaction postpones
pruning of everything newer than it.

Deletes never reach Kafka: the publication publishes inserts only.

Batches of RELAY_PRUNE_BATCH_SIZE rows, each its own short transaction, skip rows locked by
others and give up on a table lock after 2 s. \`run\` can prune on its own with
RELAY_PRUNE_INTERVAL_MS.

Exit codes:
  0  done (also when nothing was due)
  1  failed (database error, missing slot, no DELETE privilege)
  2  invalid configuration, or neither --yes nor --dry-run
  4  the slot did not confirm within --wait-ms (is the relay running?): nothing deleted
`;

export function pruneCommand(): Command {
  const command = new Command('prune')
    .description(
      'Delete outbox rows older than RELAY_RETENTION that the relay has published (the slot confirmed them), in small batches.',
    )
    .option('--yes', 'delete (without it, only --dry-run is allowed)')
    .option('--dry-run', 'count the rows that would be deleted; delete nothing')
    .option('--json', 'print the result as JSON')
    .option('--wait-ms <ms>', 'how long to wait for the slot to confirm', DEFAULT_WAIT_MS)
    .addHelpText('after', HELP);
  addSettingFlags(command, ['pgUrl', 'outboxTable', 'slot', 'retentionMs']);
  return command.action(async (options: PruneOptions) => {
    process.exitCode = await runPrune(options).catch(reportError);
  });
}

async function runPrune(options: PruneOptions): Promise<number> {
  const { config } = configFromFlags(options, ['kafkaBrokers']);
  const waitMs = parseWaitMs(options.waitMs);
  const dryRun = options.dryRun === true;
  if (!dryRun && options.yes !== true) {
    throw new RelayError('CONFIG_INVALID', 'prune deletes rows: pass --yes to delete them', {
      hint: 'Run with --dry-run first to see how many rows would go.',
    });
  }
  const db = await openDb(config.pgUrl, 'prune');
  try {
    const report = await pruneOnce(db, pruneTargetFrom(config), { dryRun, waitMs });
    print(report, { dryRun, json: options.json === true, retention: config.retentionMs });
    if (report.confirmed) return EXIT.ok;
    process.stderr.write(
      `outbox-relay: slot "${config.slot}" did not confirm ${report.watermarkLsn} within ${waitMs} ms (it is at ${report.confirmedFlushLsn}): nothing deleted\n` +
        '  what to do: run prune while `outbox-relay run` streams from this slot, or raise --wait-ms if it is catching up.\n',
    );
    return EXIT.confirmationNeeded;
  } finally {
    await db.end();
  }
}

function print(
  report: PruneReport,
  how: { dryRun: boolean; json: boolean; retention: number },
): void {
  const retention = formatRetention(how.retention);
  if (how.json) {
    process.stdout.write(`${JSON.stringify({ dryRun: how.dryRun, retention, ...report })}\n`);
    return;
  }
  const before = `created before ${report.cutoff.toISOString()} (retention ${retention})`;
  if (report.confirmed) {
    process.stdout.write(
      how.dryRun
        ? `would delete ${report.wouldDelete} rows ${before}\n`
        : `deleted ${report.deleted} rows ${before} in ${report.batches} batches\n`,
    );
  }
  if (report.kept > 0) {
    const keep = how.dryRun ? 'would keep' : 'kept';
    process.stdout.write(`${keep} ${report.kept} older rows the slot has not confirmed yet\n`);
  }
}

function parseWaitMs(value: unknown): number {
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  throw new RelayError('CONFIG_INVALID', `--wait-ms: must be a whole number of milliseconds`, {
    hint: 'e.g. --wait-ms 30000',
  });
}
