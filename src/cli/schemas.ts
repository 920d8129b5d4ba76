/**
 * `outbox-relay schemas check`: compares the event schemas in RELAY_SCHEMA_DIR with the versions
 * the registry already holds under their subjects, at RELAY_SCHEMA_COMPATIBILITY, and names the
 * field and the rule for every incompatibility. Changes nothing. Exit codes: 0 compatible (or
 * nothing to compare with yet), 1 an incompatibility, 2 invalid configuration or schema file.
 */
import { Command } from 'commander';
import { RelayError } from '../domain/errors.ts';
import { registryClientFrom } from '../encode/registry-client.ts';
import {
  checkConfiguredSchemas,
  describeProblems,
  type SubjectReport,
} from '../encode/schema-check.ts';
import { loadSchemaDirectory, SCHEMA_DIR_SETTING } from '../encode/schema-directory.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';

type CheckOptions = { readonly topics?: string; readonly json?: true };

export function schemasCommand(): Command {
  const schemas = new Command('schemas').description('Event schemas and the schema registry.');
  const check = new Command('check')
    .description(
      'Compare the schemas in RELAY_SCHEMA_DIR with the latest versions (all versions, for a *_TRANSITIVE level) the registry holds under their subjects, at RELAY_SCHEMA_COMPATIBILITY, naming the field and the rule broken. Changes nothing. Exit 0: compatible; 1: an incompatibility; 2: invalid configuration or schema file.',
    )
    .option(
      '--topics <topic,...>',
      'with RELAY_SCHEMA_SUBJECT_STRATEGY=topic: the topics whose <topic>-value subjects to check (default: the <topic>-value subjects of every topic RELAY_TOPIC_TEMPLATE can produce whose latest version is the same record)',
    )
    .option('--json', 'print one report per subject as a JSON array');
  addSettingFlags(check, ['schemaDir', 'schemaRegistryUrl', 'topicTemplate', 'logLevel']);
  check.action(async (options: CheckOptions) => {
    process.exitCode = await runCheck(options).catch(reportError);
  });
  return schemas.addCommand(check);
}

async function runCheck(options: CheckOptions): Promise<number> {
  const { config } = configFromFlags(options, ['pgUrl', 'kafkaBrokers']);
  if (!config.schemaDir) {
    throw new RelayError(
      'CONFIG_INVALID',
      `${SCHEMA_DIR_SETTING} is empty: there are no event schemas to check`,
      {
        hint: `Set ${SCHEMA_DIR_SETTING} or pass --schema-dir.`,
      },
    );
  }
  const local = loadSchemaDirectory(config.schemaDir);
  const registry = registryClientFrom(config);
  if (!registry) {
    throw new RelayError(
      'CONFIG_INVALID',
      'RELAY_SCHEMA_REGISTRY_URL is empty: there is no registry to compare with',
      {
        hint: `Set RELAY_SCHEMA_REGISTRY_URL or pass --schema-registry-url. The ${local.size} schema files parse.`,
      },
    );
  }
  const topics =
    typeof options.topics === 'string' ? options.topics.split(',').map((t) => t.trim()) : undefined;
  const reports = await checkConfiguredSchemas(config, registry, topics);
  process.stdout.write(
    options.json ? `${JSON.stringify(reports)}\n` : format(reports, config.schemaCompatibility),
  );
  return reports.some((r) => r.problems.length > 0) ? EXIT.failed : EXIT.ok;
}

function format(reports: readonly SubjectReport[], level: string): string {
  const lines = reports.flatMap((r) => {
    if (r.versions === 0)
      return [`- ${r.file}: no subject "${r.subject}" yet, nothing to compare with`];
    if (r.problems.length === 0) {
      return [
        `✓ ${r.file} -> subject "${r.subject}": ${level} compatible with ${r.versions} version(s)`,
      ];
    }
    return describeProblems(r).map((line) => `✗ ${line}`);
  });
  const bad = reports.filter((r) => r.problems.length > 0).length;
  const verdict =
    bad === 0 ? `all ${level} compatible` : `${bad} subject(s) incompatible at ${level}`;
  return `${[...lines, '', verdict].join('\n')}\n`;
}
