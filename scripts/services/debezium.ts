/**
 * Debezium's PostgreSQL connector with its Outbox Event Router on Kafka Connect standalone: the
 * system a team runs before it switches to the relay. Jars from Maven Central, cached in
 * .cache/debezium-connect-<debezium version>/ like the broker's (scripts/debezium/pom.xml).
 * Plugins are found through the service loader on the class path: a full class scan takes ~40 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT, requireJava } from './kafka-libs.ts';
import { say, since } from './log.ts';
import { ensureMavenLibs, pomProperty } from './maven-libs.ts';
import { freePort } from './net.ts';

const POM = join(REPO_ROOT, 'scripts/debezium/pom.xml');
const LOG4J_CONFIG = join(REPO_ROOT, 'scripts/debezium/log4j2.properties');
const READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 30_000;

export interface DebeziumOptions {
  readonly brokers: readonly string[];
  /** The database, as host, port, user and name (Debezium takes no URL). */
  readonly pg: { host: string; port: number; user: string; database: string };
  readonly slot: string;
  readonly publication: string;
  /** schema.table of the outbox, in Debezium's default layout. */
  readonly table: string;
  /** Prefix of the router's topics: `<prefix><aggregatetype>`. */
  readonly topicPrefix: string;
  readonly partitions: number;
}

export interface DebeziumConnect {
  readonly restUrl: string;
  readonly logFile: string;
  /** SIGTERM: Connect stops the task and commits its last offsets (Debezium confirms the LSN). */
  stop(): Promise<void>;
}

export async function ensureDebeziumLibs(): Promise<string> {
  const version = pomProperty(await readFile(POM, 'utf8'), POM, 'debezium.version');
  return ensureMavenLibs({
    pom: POM,
    cacheDir: join(REPO_ROOT, '.cache', `debezium-connect-${version}`),
    what: 'Kafka Connect and Debezium',
  });
}

const CONNECTOR = 'outbox-connector';

function workerProperties(dir: string, options: DebeziumOptions, restPort: number): string {
  return [
    `bootstrap.servers=${options.brokers.join(',')}`,
    `listeners=http://127.0.0.1:${restPort}`,
    `offset.storage.file.filename=${join(dir, 'offsets.dat')}`,
    'offset.flush.interval.ms=1000',
    'plugin.discovery=service_load',
    'key.converter=org.apache.kafka.connect.storage.StringConverter',
    'value.converter=org.apache.kafka.connect.storage.StringConverter',
    '',
  ].join('\n');
}

/** Debezium's documented outbox setup: the router with its defaults, pgoutput, no snapshot. */
function connectorProperties(options: DebeziumOptions): string {
  const { pg } = options;
  return [
    `name=${CONNECTOR}`,
    'connector.class=io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max=1',
    'plugin.name=pgoutput',
    `database.hostname=${pg.host}`,
    `database.port=${pg.port}`,
    `database.user=${pg.user}`,
    'database.password=',
    `database.dbname=${pg.database}`,
    'topic.prefix=dbz',
    `slot.name=${options.slot}`,
    `publication.name=${options.publication}`,
    'publication.autocreate.mode=disabled',
    `table.include.list=${options.table}`,
    'snapshot.mode=no_data',
    'tombstones.on.delete=false',
    'transforms=outbox',
    'transforms.outbox.type=io.debezium.transforms.outbox.EventRouter',
    `transforms.outbox.route.topic.replacement=${options.topicPrefix}\${routedByValue}`,
    'topic.creation.default.replication.factor=1',
    `topic.creation.default.partitions=${options.partitions}`,
    '',
  ].join('\n');
}

/** Starts Connect standalone with the connector, and waits until its task runs. */
export async function startDebezium(options: DebeziumOptions): Promise<DebeziumConnect> {
  const t0 = performance.now();
  await requireJava('Kafka Connect', 'skip the Debezium tests');
  const libs = await ensureDebeziumLibs();
  const dir = await mkdtemp(join(tmpdir(), 'outbox-relay-debezium-'));
  const restPort = await freePort();
  const worker = join(dir, 'worker.properties');
  const connector = join(dir, 'connector.properties');
  await writeFile(worker, workerProperties(dir, options, restPort));
  await writeFile(connector, connectorProperties(options));
  const logFile = join(dir, 'connect.log');
  const child = spawn(
    'java',
    [
      '-Xmx512m',
      `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
      `-Dconnect.logs.dir=${dir}`,
      '-cp',
      `${libs}/*`,
      'org.apache.kafka.connect.cli.ConnectStandalone',
      worker,
      connector,
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out = createWriteStream(join(dir, 'connect.out'));
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  const restUrl = `http://127.0.0.1:${restPort}`;
  const connect: DebeziumConnect = {
    restUrl,
    logFile,
    stop: () => stopConnect(child, dir),
  };
  try {
    await waitRunning(child, restUrl, dir);
  } catch (error) {
    await connect.stop();
    throw error;
  }
  say(`Debezium connector running in ${since(t0)} (${dir})`);
  return connect;
}

async function waitRunning(child: ChildProcess, restUrl: string, dir: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`Kafka Connect exited with ${child.exitCode}; see ${dir}/connect.out`);
    }
    const state = await taskState(restUrl);
    if (state === 'RUNNING') return;
    if (state === 'FAILED') throw new Error(`the Debezium task failed; see ${dir}/connect.out`);
    if (Date.now() > deadline) {
      throw new Error(`Debezium did not run within ${READY_TIMEOUT_MS} ms; see ${dir}/connect.out`);
    }
    await sleep(500);
  }
}

async function taskState(restUrl: string): Promise<string | null> {
  try {
    const response = await fetch(`${restUrl}/connectors/${CONNECTOR}/status`);
    if (!response.ok) return null;
    const status = (await response.json()) as { tasks?: { state: string }[] };
    return status.tasks?.[0]?.state ?? null;
  } catch {
    return null;
  }
}

async function stopConnect(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timedOut = await Promise.race([
      exited.then(() => false),
      sleep(STOP_GRACE_MS).then(() => true),
    ]);
    if (timedOut) {
      child.kill('SIGKILL');
      await exited;
    }
  }
  if (!process.env.RELAY_TEST_KEEP_DEBEZIUM) await rm(dir, { recursive: true, force: true });
}
