#!/usr/bin/env node
/** The `outbox-relay` command line: one file per command, all thin adapters. */
import { Command } from 'commander';
import { migrateCommand } from './migrate.ts';
import { runCommand } from './run.ts';

const program = new Command('outbox-relay')
  .description(
    'Relays a PostgreSQL transactional outbox to Kafka, Avro-encoded, acknowledging WAL only after Kafka holds it.',
  )
  .addCommand(runCommand())
  .addCommand(migrateCommand());

await program.parseAsync(process.argv);
