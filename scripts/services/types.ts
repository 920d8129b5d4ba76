/**
 * Shapes shared by the service harness: what tests get (Services) and what the with-services
 * wrapper writes to its state file (ServicesState) so that test processes can attach to the
 * same servers and stop or start them.
 */

export type ServicesKind = 'env' | 'testcontainers' | 'local';

export interface StopOptions {
  /** Simulate a crash instead of a clean shutdown: Postgres `immediate` mode, SIGKILL for Kafka. */
  force?: boolean;
}

/** Control of one server; start() brings it back on the same port with the same data. */
export interface ServiceControl {
  stop(opts?: StopOptions): Promise<void>;
  /** A no-op when the server is already running. */
  start(): Promise<void>;
  restart(opts?: StopOptions): Promise<void>;
}

export interface Services {
  kind: ServicesKind;
  /** Superuser URL of database `postgres`. */
  pgUrl: string;
  kafkaBrokers: string[];
  /** Absent when the servers were not started by the harness (env, testcontainers). */
  kafkaSecurity?: KafkaSecurityInfo;
  pgTls?: PostgresTlsInfo;
  /**
   * Base URL of a Confluent-compatible schema registry API (Apicurio's ccompat v7), without a
   * trailing slash; '' with kind 'env' when RELAY_TEST_REGISTRY_URL is unset.
   */
  registryUrl: string;
  postgres: ServiceControl;
  kafka: ServiceControl;
  /** A restarted local or container registry is empty: it keeps its schemas in memory. */
  registry: ServiceControl;
  /**
   * Owner: stops everything it started and removes its temp dirs. Attached (the wrapper owns the
   * servers): starts again whatever this handle stopped, so the next test file finds them running.
   */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where to write the state file that attachServices() reads in other processes. */
  statePath?: string;
}

/** A throwaway cluster made by initdb; pgCtl is the argv prefix that runs pg_ctl as its owner. */
export interface LocalPostgresState {
  type: 'local';
  version: string;
  port: number;
  dir: string;
  dataDir: string;
  logFile: string;
  pgCtl: string[];
  tls?: PostgresTlsInfo;
}

/**
 * The TLS and SASL listeners of a harness broker, for the security tests. One user, with one
 * password, for each of PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
 */
export interface KafkaSecurityInfo {
  /** SASL_PLAINTEXT listener: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512. */
  saslPlaintextBrokers: string[];
  /** SSL listener that requires a client certificate (mutual TLS). */
  sslBrokers: string[];
  /** SASL_SSL listener: the same mechanisms, over TLS; no client certificate. */
  saslSslBrokers: string[];
  /** PEM CA that signed the broker's certificate (for localhost and 127.0.0.1) and the client's. */
  caFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  username: string;
  password: string;
}

/** A PostgreSQL server with ssl=on, its certificate for localhost and 127.0.0.1. */
export interface PostgresTlsInfo {
  /** PEM CA that signed the server certificate: sslrootcert=<caFile>. */
  caFile: string;
}

/** A broker run as `command` (java ... kafka.Kafka <configFile>) from `dir`. */
export interface LocalKafkaState {
  type: 'local';
  version: string;
  port: number;
  controllerPort: number;
  /** Ports of the extra listeners (SASL_PLAINTEXT, SSL, SASL_SSL) and what clients need. */
  security?: KafkaSecurityInfo;
  /** Current broker pid; rewritten whenever a test process starts the broker again. */
  pid: number;
  dir: string;
  configFile: string;
  /** Broker log (WARN and up); what to read when the broker misbehaves. */
  logFile: string;
  /** JVM stdout/stderr: crashes before logging is up land here. */
  outFile: string;
  command: string[];
}

/** Controlled with the docker CLI (docker stop/start <id>), so any process can do it. */
export interface ContainerState {
  type: 'container';
  id: string;
  image: string;
}

/** Apicurio Registry run as `command` (java ... -jar runner.jar) from `dir`. */
export interface LocalRegistryState {
  type: 'local';
  version: string;
  port: number;
  /** Current JVM pid; rewritten whenever a test process starts the registry again. */
  pid: number;
  dir: string;
  /** The Quarkus properties file passed by path on the command line, which marks the process. */
  configFile: string;
  /** JVM stdout/stderr: Quarkus logs to the console, access log included. */
  logFile: string;
  command: string[];
  /** The ccompat base URL, e.g. http://127.0.0.1:PORT/apis/ccompat/v7. */
  url: string;
  /** Set when the registry requires HTTP basic auth (for tests of credentials only). */
  basicAuth?: BasicAuth;
}

export interface BasicAuth {
  username: string;
  password: string;
}

export type PostgresState = LocalPostgresState | ContainerState;
export type KafkaState = LocalKafkaState | ContainerState;
export type RegistryState = LocalRegistryState | ContainerState;

export interface ServicesState {
  version: 1;
  kind: ServicesKind;
  pgUrl: string;
  kafkaBrokers: string[];
  kafkaSecurity?: KafkaSecurityInfo;
  pgTls?: PostgresTlsInfo;
  /** See Services.registryUrl. */
  registryUrl: string;
  /** Absent for kind 'env': the harness did not start those servers. */
  postgres?: PostgresState;
  kafka?: KafkaState;
  registry?: RegistryState;
}
