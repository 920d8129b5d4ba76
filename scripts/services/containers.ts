import { existsSync } from 'node:fs';
import { request, type RequestOptions } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { brokerReady } from './kafka.ts';
import { say, since } from './log.ts';
import { freePorts } from './net.ts';
import { run } from './proc.ts';
import { CCOMPAT_PATH, CONFLUENT_LIKE_SETTINGS, registryReady } from './registry.ts';
import type { ContainerState, ServiceControl, ServicesState, StopOptions } from './types.ts';

const PG_IMAGE = 'postgres:17';
const KAFKA_IMAGE = 'apache/kafka:4.1.1';
const REGISTRY_IMAGE = 'apicurio/apicurio-registry:3.0.9';
const READY_TIMEOUT_MS = 90_000;

/**
 * Whether a Docker engine answers GET /_ping within a second, at DOCKER_HOST or the default
 * socket. A TLS-protected DOCKER_HOST does not answer plain HTTP and so falls back to local
 * processes.
 */
export function dockerAnswers(): Promise<boolean> {
  const target = dockerTarget();
  if (!target) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

function dockerTarget(): RequestOptions | null {
  const host = process.env.DOCKER_HOST;
  if (!host)
    return existsSync('/var/run/docker.sock') ? { socketPath: '/var/run/docker.sock' } : null;
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return { host: url.hostname, port: Number(url.port) || 2375 };
}

/**
 * The containers publish fixed host ports, chosen here, because Kafka must advertise its
 * host-side address before it starts and because `docker start` after `docker stop` would
 * otherwise map new random ports.
 */
export async function startContainers(): Promise<ServicesState> {
  const t0 = performance.now();
  const tc = await import('testcontainers');
  const host = (await tc.getContainerRuntimeClient()).info.containerRuntime.host;
  const [pgPort = 0, kafkaPort = 0, registryPort = 0] = await freePorts(3);
  const postgres = new tc.GenericContainer(PG_IMAGE)
    .withEnvironment({ POSTGRES_PASSWORD: 'postgres' })
    .withCommand(['postgres', ...postgresFlags()])
    .withExposedPorts({ container: 5432, host: pgPort })
    .withWaitStrategy(tc.Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  const kafka = new tc.GenericContainer(KAFKA_IMAGE)
    .withEnvironment(kafkaEnvironment(host, kafkaPort))
    .withExposedPorts({ container: 9092, host: kafkaPort })
    .start();
  const registry = new tc.GenericContainer(REGISTRY_IMAGE)
    .withEnvironment(registryEnvironment())
    .withExposedPorts({ container: 8080, host: registryPort })
    .start();
  const [pgContainer, kafkaContainer, registryContainer] = await Promise.all([
    postgres,
    kafka,
    registry,
  ]);
  const state: ServicesState = {
    version: 1,
    kind: 'testcontainers',
    pgUrl: `postgres://postgres:postgres@${host}:${pgPort}/postgres`,
    kafkaBrokers: [`${host}:${kafkaPort}`],
    registryUrl: `http://${host}:${registryPort}${CCOMPAT_PATH}`,
    postgres: { type: 'container', id: pgContainer.getId(), image: PG_IMAGE },
    kafka: { type: 'container', id: kafkaContainer.getId(), image: KAFKA_IMAGE },
    registry: { type: 'container', id: registryContainer.getId(), image: REGISTRY_IMAGE },
  };
  await brokerReady(state.kafkaBrokers, { hint: `see docker logs ${kafkaContainer.getId()}` });
  await registryReady(state.registryUrl, { hint: `see docker logs ${registryContainer.getId()}` });
  const images = `${PG_IMAGE}, ${KAFKA_IMAGE} and ${REGISTRY_IMAGE}`;
  say(`${images} ready on ${host} in ${since(t0)} (testcontainers)`);
  return state;
}

function postgresFlags(): string[] {
  const settings = [
    'wal_level=logical',
    'max_replication_slots=64',
    'max_wal_senders=64',
    'track_commit_timestamp=on',
  ];
  return [...settings, 'fsync=off'].flatMap((setting) => ['-c', setting]);
}

/**
 * apache/kafka reads server properties from KAFKA_* variables. Clients reach PLAINTEXT at the
 * host's published port; the broker reaches itself on BROKER inside the container.
 */
function kafkaEnvironment(host: string, port: number): Record<string, string> {
  return {
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
    KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093,BROKER://:9094',
    KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port},BROKER://localhost:9094`,
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP:
      'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT',
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
  };
}

/** Quarkus reads apicurio.ccompat.use-canonical-hash from APICURIO_CCOMPAT_USE_CANONICAL_HASH. */
function registryEnvironment(): Record<string, string> {
  const entries = Object.entries(CONFLUENT_LIKE_SETTINGS).map(([key, value]) => [
    key.toUpperCase().replace(/[.-]/g, '_'),
    value,
  ]);
  return Object.fromEntries(entries) as Record<string, string>;
}

/** docker stop/start keep the container's data and published ports; any process can run them. */
export function containerControl(
  container: ContainerState,
  ready: () => Promise<void>,
): ServiceControl {
  const stop = async (opts: StopOptions = {}) => {
    await run(['docker', ...(opts.force ? ['kill'] : ['stop', '-t', '20']), container.id]);
  };
  const start = async () => {
    await run(['docker', 'start', container.id]);
    await ready();
  };
  const restart = async (opts?: StopOptions) => {
    await stop(opts);
    await start();
  };
  return { stop, start, restart };
}

export async function removeContainer(container: ContainerState): Promise<void> {
  await run(['docker', 'rm', '--force', '--volumes', container.id]);
}

export async function waitForPostgres(url: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`Postgres did not answer within ${timeoutMs / 1000}s`, { cause: err });
      }
      await sleep(250);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
