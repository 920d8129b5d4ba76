/** `outbox-relay run`: the daemon. Stops cleanly on SIGTERM and SIGINT. */
import { Command } from 'commander';
import { redactConfig } from '../config/redact.ts';
import type { RelayConfig } from '../config/schema.ts';
import { createLogger, type Logger } from '../ops/logger.ts';
import { createMetrics } from '../ops/metrics.ts';
import { HealthState, startHealthServer } from '../ops/health.ts';
import { isRetriable, RelayError } from '../domain/errors.ts';
import { registryClientFrom } from '../encode/registry-client.ts';
import {
  checkConfiguredSchemas,
  describeProblems,
  type SubjectReport,
} from '../encode/schema-check.ts';
import { createRelay, encoderFrom, routerFrom } from '../pipeline/create.ts';
import type { Relay } from '../pipeline/relay.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';

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
  return command.action(async (options: Record<string, unknown>) => {
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

export async function runRelay(config: RelayConfig): Promise<number> {
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
  logger.info({ config: redactConfig(config), httpPort: server.port }, 'starting');
  const running = relay.run();
  const signalled = waitForSignal(logger);
  let code: number = EXIT.ok;
  try {
    const first = await Promise.race([running.then(() => 'ended' as const), signalled]);
    if (first !== 'ended')
      code = await stopWithin(relay, running, config.shutdownTimeoutMs, logger);
  } catch (error) {
    logger.fatal({ err: error }, 'relay failed');
    code = reportError(error);
  } finally {
    await sink.disconnect();
    await server.close();
  }
  return code;
}

async function stopWithin(
  relay: Relay,
  running: Promise<void>,
  timeoutMs: number,
  logger: Logger,
): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>(
    (resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)),
  );
  const outcome = await Promise.race([relay.stop(), timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.error(
      { timeoutMs },
      'shutdown timed out waiting for Kafka; unacknowledged events will be replayed on restart',
    );
    return EXIT.shutdownTimeout;
  }
  await running;
  logger.info(
    { durableLsn: outcome.durableLsn },
    'stopped cleanly; Kafka holds everything up to durableLsn',
  );
  return EXIT.ok;
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

/**
 * Resolves on the first SIGTERM or SIGINT. Later ones are logged and ignored: the clean stop
 * and its timeout go on (an orchestrator's SIGKILL is the way to cut it short).
 */
function waitForSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn(
          { signal },
          'already stopping; waiting for in-flight events (SIGKILL to abort)',
        );
        return;
      }
      stopping = true;
      logger.info({ signal }, 'stopping: finishing in-flight events');
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
