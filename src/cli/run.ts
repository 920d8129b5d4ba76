/** `outbox-relay run`: the daemon. Its end (signals, fatal errors, exit codes) is ops/lifecycle.ts. */
import { Command } from 'commander';
import { redactConfig } from '../config/redact.ts';
import type { RelayConfig } from '../config/schema.ts';
import { createLogger, type Logger } from '../ops/logger.ts';
import { createMetrics } from '../ops/metrics.ts';
import { HealthState, startHealthServer } from '../ops/health.ts';
import { Supervisor } from '../ops/lifecycle.ts';
import { isRetriable, RelayError } from '../domain/errors.ts';
import { registryClientFrom } from '../encode/registry-client.ts';
import {
  checkConfiguredSchemas,
  describeProblems,
  type SubjectReport,
} from '../encode/schema-check.ts';
import { createRelay, encoderFrom, routerFrom } from '../pipeline/create.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';
import type { SettingFlagValues } from './common.ts';

export function runCommand(): Command {
  const command = new Command('run').description(
    'Stream the outbox to Kafka until SIGTERM/SIGINT. Creates the slot when missing (RELAY_CREATE_SLOT).',
  );
  addSettingFlags(command, [
    'pgUrl',
    'kafkaBrokers',
    'outboxTable',
    'publication',
    'slot',
    'topicTemplate',
    'httpPort',
    'logLevel',
  ]);
  return command.action(async (options: SettingFlagValues) => {
    let config: RelayConfig;
    try {
      config = configFromFlags(options).config;
      // Validates the topic template and the schema directory now, before anything connects.
      routerFrom(config);
      encoderFrom(config, null);
    } catch (error) {
      process.exitCode = reportError(error);
      return;
    }
    process.exitCode = await runRelay(config);
  });
}

/**
 * Runs the daemon until the supervisor ends the process (see ops/lifecycle.ts for each way it
 * ends, its exit code and its time bound). Returns only when it cannot start.
 */
export async function runRelay(
  config: RelayConfig,
  exit?: (code: number) => void,
): Promise<number> {
  const logger = createLogger(config.logLevel);
  try {
    await checkRegisteredSchemas(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'refusing to start');
    return reportError(error);
  }
  const metrics = createMetrics();
  const health = new HealthState(config.livenessTimeoutMs);
  const server = await startHealthServer(health, metrics.registry, {
    host: config.httpHost,
    port: config.httpPort,
  });
  const { relay, sink } = createRelay(config, { logger, metrics, health });
  const supervisor = new Supervisor({
    logger,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    codes: EXIT,
    report: reportError,
    close: () => Promise.allSettled([relay.abandon(), sink.disconnect(), server.close()]),
    ...(exit ? { exit } : {}),
  });
  logger.info({ config: redactConfig(config), httpPort: server.port }, 'starting');
  return supervisor.supervise({ running: relay.run(), stop: () => relay.stop() });
}

/**
 * Before anything is read from the slot: the local schemas against what the registry holds, at
 * RELAY_SCHEMA_COMPATIBILITY. An incompatible schema stops the start, having acknowledged nothing.
 * A registry that does not answer is only a warning here: values wait for their ids, and each
 * schema is checked again before it is registered.
 */
async function checkRegisteredSchemas(config: RelayConfig, logger: Logger): Promise<void> {
  const registry = registryClientFrom(config);
  if (!registry || !config.schemaDir) return;
  let reports: SubjectReport[];
  try {
    reports = await checkConfiguredSchemas(config, registry);
  } catch (error) {
    if (!isRetriable(error)) throw error;
    logger.warn(
      { err: error },
      'schema check skipped: the registry did not answer; values wait for it',
    );
    return;
  }
  const problems = reports.flatMap(describeProblems);
  if (problems.length > 0) {
    throw new RelayError(
      'REGISTRY',
      `${problems.length} incompatible schema change(s) at ${config.schemaCompatibility}:\n  ${problems.join('\n  ')}`,
      {
        hint: 'Nothing was published or acknowledged. Evolve the schemas compatibly (new fields need defaults for BACKWARD), or change RELAY_SCHEMA_COMPATIBILITY deliberately; `outbox-relay schemas check` shows the same.',
      },
    );
  }
  logger.info(
    { schemas: reports.length, level: config.schemaCompatibility },
    'event schemas are compatible with the registry',
  );
}
