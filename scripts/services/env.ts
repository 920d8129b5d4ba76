import type { ServiceControl } from './types.ts';

export interface EnvSettings {
  pgUrl: string;
  kafkaBrokers: string[];
  /** RELAY_TEST_REGISTRY_URL, or '': tests that need a registry then skip. */
  registryUrl: string;
}

/**
 * RELAY_TEST_PG_URL + RELAY_TEST_KAFKA_BROKERS (comma list): both or neither. The optional
 * RELAY_TEST_REGISTRY_URL (a Confluent-compatible API base URL) is read only along with them.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): EnvSettings | null {
  const pgUrl = env.RELAY_TEST_PG_URL?.trim() ?? '';
  const kafkaBrokers = (env.RELAY_TEST_KAFKA_BROKERS ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter(Boolean);
  if (!pgUrl && kafkaBrokers.length === 0) return null;
  if (!pgUrl || kafkaBrokers.length === 0) {
    throw new Error(
      'set both RELAY_TEST_PG_URL and RELAY_TEST_KAFKA_BROKERS, or neither ' +
        '(then the test harness starts its own Postgres and Kafka)',
    );
  }
  const registryUrl = (env.RELAY_TEST_REGISTRY_URL?.trim() ?? '').replace(/\/+$/, '');
  return { pgUrl, kafkaBrokers, registryUrl };
}

/** Servers given by URL belong to someone else: the harness will not stop or start them. */
export function unsupportedControl(service: string, variable: string): ServiceControl {
  const refuse = (op: string) => () =>
    Promise.reject(
      new Error(
        `${service}.${op}() is not supported with ${variable}: the harness did not start that ` +
          'server; unset the RELAY_TEST_* variables to let scripts/with-services.ts start its own',
      ),
    );
  return { stop: refuse('stop'), start: refuse('start'), restart: refuse('restart') };
}
