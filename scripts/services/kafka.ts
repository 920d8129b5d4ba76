import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafkaLibs, LOG4J_CONFIG, requireJava, type KafkaLibs } from './kafka-libs.ts';
import { say, since } from './log.ts';
import { freePorts } from './net.ts';
import { isAlive, pidsWithArgument, run, spawnDetached, terminate } from './proc.ts';
import { LOCAL_NAMES, makeCa, makeCertificate, type CertificateFiles } from './tls.ts';
import type { KafkaSecurityInfo, LocalKafkaState, StopOptions } from './types.ts';

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
/** Teardown throws the data away, so it does not wait long for a clean shutdown. */
const TEARDOWN_GRACE_MS = 5_000;

/**
 * One combined broker+controller node (KRaft) with a static quorum of itself. Internal topics get
 * one replica and one partition: a single node cannot have more replicas, and fifty partitions
 * of __consumer_offsets make the first consumer group on 2 cores wait for nothing.
 * A broker started again after SIGKILL cannot register until the controller has expired the
 * dead incarnation's session (DUPLICATE_BROKER_REGISTRATION), so a shorter session (default 9 s)
 * keeps crash tests quick.
 */
function serverProperties(state: LocalKafkaState, tls: BrokerTls): string {
  const { port, controllerPort, dir } = state;
  const extra = extraListeners(state);
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=${[`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controllerPort}`, ...extra].join(',')}`,
    `advertised.listeners=${[`PLAINTEXT://127.0.0.1:${port}`, ...extra].join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,${SECURE_LISTENERS.map((l) => `${l}:${l}`).join(',')}`,
    ...securityProperties(state, tls),
    `log.dirs=${join(dir, 'data')}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'broker.session.timeout.ms=4000',
    'broker.heartbeat.interval.ms=1000',
    'auto.create.topics.enable=false',
    '',
  ].join('\n');
}

/** The extra listeners, each named after its security protocol. */
const SECURE_LISTENERS = ['SASL_PLAINTEXT', 'SSL', 'SASL_SSL'] as const;
const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
const SASL_USER = 'relay-test';

/** PEM texts: the broker's certificate and key, and the CA its mutual-TLS listener trusts. */
interface BrokerTls {
  ca: string;
  cert: string;
  key: string;
}

function extraListeners(state: LocalKafkaState): string[] {
  const security = state.security;
  if (!security) return [];
  const [saslPlaintext, ssl, saslSsl] = [
    security.saslPlaintextBrokers,
    security.sslBrokers,
    security.saslSslBrokers,
  ].map((brokers) => brokers[0] ?? '');
  return [`SASL_PLAINTEXT://${saslPlaintext}`, `SSL://${ssl}`, `SASL_SSL://${saslSsl}`];
}

/**
 * TLS from PEM files (Kafka 4 reads them without a JKS keystore). The SSL listener requires a
 * client certificate; SASL_SSL does not. PLAIN users come from the JAAS line (`user_<name>`),
 * SCRAM users from the metadata log, where `format --add-scram` put them.
 */
function securityProperties(state: LocalKafkaState, tls: BrokerTls): string[] {
  const security = state.security;
  if (!security) return [];
  const plain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_${security.username}="${security.password}";`;
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const perSaslListener = ['sasl_plaintext', 'sasl_ssl'].flatMap((listener) => [
    `listener.name.${listener}.plain.sasl.jaas.config=${plain}`,
    `listener.name.${listener}.scram-sha-256.sasl.jaas.config=${scram}`,
    `listener.name.${listener}.scram-sha-512.sasl.jaas.config=${scram}`,
  ]);
  return [
    `sasl.enabled.mechanisms=${SASL_MECHANISMS.join(',')}`,
    ...perSaslListener,
    // Inline PEM: a keystore *file* in PEM format needs an encrypted key and its password.
    'ssl.keystore.type=PEM',
    `ssl.keystore.certificate.chain=${propertyValue(tls.cert)}`,
    `ssl.keystore.key=${propertyValue(tls.key)}`,
    'listener.name.ssl.ssl.client.auth=required',
    'listener.name.ssl.ssl.truststore.type=PEM',
    `listener.name.ssl.ssl.truststore.certificates=${propertyValue(tls.ca)}`,
  ];
}

/** A multi-line text as one java.util.Properties value. */
function propertyValue(text: string): string {
  return text.trim().replace(/\r?\n/g, '\\n');
}

/** Fetches the jars if needed, formats storage in a new temp dir and starts the broker. */
export async function startLocalKafka(): Promise<LocalKafkaState> {
  await requireJava();
  const libs = await ensureKafkaLibs();
  const t0 = performance.now();
  const state = await prepare(libs);
  try {
    await format(state, libs);
    await launch(state);
    await brokerReady(brokersOf(state), readyOptions(state));
    say(`kafka ${libs.version} ready on 127.0.0.1:${state.port} in ${since(t0)} (${state.dir})`);
    return state;
  } catch (err) {
    await removeLocalKafka(state).catch(() => undefined);
    throw err;
  }
}

async function prepare(libs: KafkaLibs): Promise<LocalKafkaState> {
  const dir = await mkdtemp(join(tmpdir(), 'outbox-relay-kafka-'));
  const [port = 0, controllerPort = 0, ...securePorts] = await freePorts(5);
  const configFile = join(dir, 'server.properties');
  const logsDir = join(dir, 'logs');
  const tls = await makeBrokerTls(dir);
  const state: LocalKafkaState = {
    type: 'local',
    version: libs.version,
    port,
    controllerPort,
    security: securityInfo(securePorts, tls.files),
    pid: 0,
    dir,
    configFile,
    logFile: join(logsDir, 'server.log'),
    outFile: join(dir, 'kafka.out'),
    command: [...javaCommand(libs, logsDir), 'kafka.Kafka', configFile],
  };
  await mkdir(logsDir);
  await writeFile(configFile, serverProperties(state, tls.pem));
  return state;
}

/** A CA, the broker's certificate for localhost and 127.0.0.1, and a client certificate. */
async function makeBrokerTls(dir: string) {
  const tlsDir = join(dir, 'tls');
  await mkdir(tlsDir);
  const ca = await makeCa(tlsDir, 'ca');
  const [broker, client] = await Promise.all([
    makeCertificate(tlsDir, 'broker', ca, { altNames: LOCAL_NAMES }),
    makeCertificate(tlsDir, 'client', ca, { client: true }),
  ]);
  const [caPem, cert, key] = await Promise.all(
    [ca.certFile, broker.certFile, broker.keyFile].map((file) => readFile(file, 'utf8')),
  );
  return { files: { ca, client }, pem: { ca: caPem, cert, key } as BrokerTls };
}

function securityInfo(
  ports: number[],
  files: { ca: CertificateFiles; client: CertificateFiles },
): KafkaSecurityInfo {
  const [saslPlaintext, ssl, saslSsl] = ports.map((p) => [`127.0.0.1:${p}`]);
  return {
    saslPlaintextBrokers: saslPlaintext ?? [],
    sslBrokers: ssl ?? [],
    saslSslBrokers: saslSsl ?? [],
    caFile: files.ca.certFile,
    clientCertFile: files.client.certFile,
    clientKeyFile: files.client.keyFile,
    username: SASL_USER,
    password: randomBytes(12).toString('base64url'),
  };
}

function javaCommand(libs: KafkaLibs, logsDir: string): string[] {
  return [
    'java',
    '-Xms256m',
    '-Xmx768m',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
    `-Dkafka.logs.dir=${logsDir}`,
    '-cp',
    `${libs.libsDir}/*`,
  ];
}

/** Kafka 4.1 accepts a static controller.quorum.voters with a plain `format` (no --standalone). */
async function format(state: LocalKafkaState, libs: KafkaLibs): Promise<void> {
  const tool = [...javaCommand(libs, join(state.dir, 'logs')), 'kafka.tools.StorageTool'];
  await run([...tool, 'format', '-t', clusterId(), '-c', state.configFile, ...scramUsers(state)]);
}

/** SCRAM credentials are metadata records; format writes them into the first snapshot. */
function scramUsers(state: LocalKafkaState): string[] {
  const security = state.security;
  if (!security) return [];
  return ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => [
    '--add-scram',
    `${mechanism}=[name=${security.username},password=${security.password}]`,
  ]);
}

/**
 * What `StorageTool random-uuid` prints (Kafka's Uuid: 16 random bytes, base64url, unpadded,
 * never starting with '-'), made here to save a JVM start of 1-2.5 s on a busy 2-core machine.
 */
function clusterId(): string {
  const id = randomBytes(16).toString('base64url');
  return id.startsWith('-') ? clusterId() : id;
}

/** The broker outlives the process that started it (see spawnDetached). */
async function launch(state: LocalKafkaState): Promise<void> {
  state.pid = await spawnDetached(state.command, state.dir, state.outFile);
}

function brokersOf(state: LocalKafkaState): string[] {
  return [`127.0.0.1:${state.port}`];
}

function readyOptions(state: LocalKafkaState): WaitOptions {
  return {
    alive: () => isAlive(state.pid, state.configFile),
    hint: `see ${state.logFile} and ${state.outFile}`,
  };
}

/**
 * The operations behind the ServiceControl of a local broker. `state` is the caller's current
 * copy (re-read from the state file), and start() sets state.pid for the caller to save.
 */
export const localKafka = {
  async stop(state: LocalKafkaState, opts: StopOptions = {}): Promise<void> {
    await terminate(state.pid, opts.force ? 0 : STOP_GRACE_MS, state.configFile);
  },
  /** onLaunched runs before the wait, so the new pid is on record even if the caller dies. */
  async start(state: LocalKafkaState, onLaunched: () => Promise<void>): Promise<void> {
    if (await isAlive(state.pid, state.configFile)) return;
    const t0 = performance.now();
    await launch(state);
    await onLaunched();
    await brokerReady(brokersOf(state), readyOptions(state));
    say(`kafka started again on 127.0.0.1:${state.port} in ${since(t0)}`);
  },
};

/** Stops the recorded broker and any other started from this config, then removes its dir. */
export async function removeLocalKafka(state: LocalKafkaState): Promise<void> {
  const pids = new Set([state.pid, ...(await pidsWithArgument(state.configFile))]);
  pids.delete(0);
  await Promise.all([...pids].map((pid) => terminate(pid, TEARDOWN_GRACE_MS, state.configFile)));
  await rm(state.dir, { recursive: true, force: true });
}

export interface WaitOptions {
  /** Checked between attempts so that a broker that died fails fast instead of timing out. */
  alive?: () => Promise<boolean>;
  hint: string;
  timeoutMs?: number;
}

/** Ready for tests: answers metadata requests and has a group coordinator. */
export async function brokerReady(brokers: string[], opts: WaitOptions): Promise<void> {
  await waitForBroker(brokers, opts);
  await warmUpGroupCoordinator(brokers);
}

/** Polls with a metadata request (listTopics) until the broker answers. */
async function waitForBroker(brokers: string[], opts: WaitOptions): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await brokerAnswers(brokers)) return;
    if (opts.alive && !(await opts.alive())) {
      throw new Error(`the Kafka broker exited while starting; ${opts.hint}`);
    }
    if (Date.now() > deadline) {
      const where = brokers.join(',');
      throw new Error(`Kafka at ${where} did not answer within ${timeoutMs / 1000}s; ${opts.hint}`);
    }
    await sleep(250);
  }
}

function quietClient(brokers: string[], retries: number): Kafka {
  return new Kafka({
    clientId: 'outbox-relay-services',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

async function brokerAnswers(brokers: string[]): Promise<boolean> {
  const admin = quietClient(brokers, 0).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Waits until the group coordinator answers. On a new broker the first lookup creates
 * __consumer_offsets; after a restart the coordinator first reloads it. Until then kafkajs
 * consumers log "The group coordinator is not available" or "The coordinator is loading" at
 * ERROR and crash-restart, which would land in the first test's output and timing.
 */
async function warmUpGroupCoordinator(brokers: string[]): Promise<void> {
  const admin = quietClient(brokers, 20).admin();
  try {
    await admin.connect();
    await admin.describeGroups(['outbox-relay-services-warm-up']);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
