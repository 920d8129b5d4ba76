#!/usr/bin/env -S node --max-semi-space-size=4
// The flag: V8 sizes the young generation for throughput (tens of MiB per semi-space); the
// relay's garbage is short-lived and steady, so a small one bounds RSS at little cost (see the
// README's memory figures). It must be given at start; the Dockerfile's entrypoint does the same.
/** The `outbox-relay` command line: one file per command, all thin adapters. */
import { Command } from 'commander';
import { configCommand } from './config-show.ts';
import { doctorCommand } from './doctor.ts';
import { schemasCommand } from './schemas.ts';
import { migrateCommand } from './migrate.ts';
import { offsetsCommand } from './offsets.ts';
import { pruneCommand } from './prune.ts';
import { replayCommand } from './replay.ts';
import { runCommand } from './run.ts';

// kafkajs 2.2.4 schedules a timer with a negative delay on Node 24 (its issue #1751, fixed in
// no release): harmless, but printed on every start. Other warnings are printed as usual.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'TimeoutNegativeWarning')
    process.stderr.write(`${warning.stack ?? warning.message}\n`);
});

const program = new Command('outbox-relay')
  .description(
    'Relays a PostgreSQL transactional outbox to Kafka, Avro-encoded, acknowledging WAL only after Kafka holds it.',
  )
  .addCommand(runCommand())
  .addCommand(migrateCommand())
  .addCommand(offsetsCommand())
  .addCommand(pruneCommand())
  .addCommand(replayCommand())
  .addCommand(doctorCommand())
  .addCommand(schemasCommand())
  .addCommand(configCommand());

await program.parseAsync(process.argv);
