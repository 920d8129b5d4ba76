/**
 * TLS and SASL for every Kafka client the relay makes (the sink of `run` and `replay`, the
 * checkpoint reader, `offsets`, the doctor's inspector): one function turns the settings into
 * kafkajs' `ssl` and `sasl` options, so that no client connects differently from the others.
 * The shapes are Node's and kafkajs' own, written out here so that this file needs no kafkajs
 * import. Also: what a failed connection says about these settings.
 */
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { RelayConfig } from '../config/schema.ts';
import { certificateFailure } from '../domain/certificate.ts';
import { findInChain } from '../domain/errors.ts';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaSecurity {
  /** Absent: plaintext. The files were checked at load and are read again here, at start. */
  readonly ssl?: ConnectionOptions;
  readonly sasl?: SaslOptions;
}

/** One object type per mechanism, as kafkajs declares them. */
export type SaslOptions = {
  [M in SaslMechanism]: { mechanism: M; username: string; password: string };
}[SaslMechanism];

export type KafkaSecuritySettings = Pick<
  RelayConfig,
  | 'kafkaBrokers'
  | 'kafkaClientId'
  | 'kafkaTls'
  | 'kafkaTlsCaFile'
  | 'kafkaTlsCertFile'
  | 'kafkaTlsKeyFile'
  | 'kafkaSaslMechanism'
  | 'kafkaSaslUsername'
  | 'kafkaSaslPassword'
  | 'kafkaClient'
>;

/** Where and how every client connects: spread into createKafkaSink / createKafkaInspector. */
export function kafkaClientOptions(config: KafkaSecuritySettings): {
  brokers: string[];
  clientId: string;
  security: KafkaSecurity;
  /** Which library produces the events (RELAY_KAFKA_CLIENT); the inspector ignores it. */
  client: RelayConfig['kafkaClient'];
} {
  return {
    brokers: [...config.kafkaBrokers],
    clientId: config.kafkaClientId,
    client: config.kafkaClient,
    security: kafkaSecurity(config),
  };
}

export function kafkaSecurity(config: KafkaSecuritySettings): KafkaSecurity {
  const { kafkaSaslMechanism: mechanism } = config;
  return {
    ...(config.kafkaTls ? { ssl: tlsOptions(config) } : {}),
    ...(mechanism === 'none'
      ? {}
      : {
          sasl: {
            mechanism,
            username: config.kafkaSaslUsername,
            password: config.kafkaSaslPassword,
          },
        }),
  };
}

function tlsOptions(config: KafkaSecuritySettings): ConnectionOptions {
  const read = (path: string) => readFileSync(path, 'utf8');
  return {
    // Verification is never turned off: a private CA goes in RELAY_KAFKA_TLS_CA_FILE.
    rejectUnauthorized: true,
    ...(config.kafkaTlsCaFile ? { ca: read(config.kafkaTlsCaFile) } : {}),
    ...(config.kafkaTlsCertFile
      ? { cert: read(config.kafkaTlsCertFile), key: read(config.kafkaTlsKeyFile) }
      : {}),
  };
}

/**
 * kafkajs' default socket factory, except that an IP address is not sent as the TLS server name
 * (SNI), which RFC 6066 forbids and Node warns about; the certificate is checked against the
 * address either way.
 */
export function openSocket(args: {
  host: string;
  port: number;
  ssl: ConnectionOptions;
  onConnect: () => void;
}): Socket {
  const { host, port, ssl, onConnect } = args;
  const socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : tcpConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  return socket;
}

function saslRefused(error: unknown): boolean {
  return (
    findInChain(error, (e) => e.name === 'KafkaJSSASLAuthenticationError' || undefined) ?? false
  );
}

export interface KafkaFailure {
  readonly hint: string;
  /** False when trying again with the same settings cannot help (credentials, certificates). */
  readonly retriable: boolean;
}

/** What a failure to reach or talk to Kafka says about the settings, for the operator. */
export function explainKafkaFailure(
  error: unknown,
  brokers: readonly string[],
  security: KafkaSecurity = {},
): KafkaFailure {
  if (saslRefused(error)) {
    return {
      retriable: false,
      hint: `The brokers refused the SASL login: check RELAY_KAFKA_SASL_USERNAME, RELAY_KAFKA_SASL_PASSWORD (or its _FILE) and RELAY_KAFKA_SASL_MECHANISM (${security.sasl?.mechanism ?? 'none'}), which the listener must enable.`,
    };
  }
  const certificate = certificateFailure(error);
  if (certificate) {
    return {
      retriable: false,
      hint: `The broker's TLS certificate did not verify (${certificate}): set RELAY_KAFKA_TLS_CA_FILE to the CA that signed it, and list the brokers in RELAY_KAFKA_BROKERS by a name or address the certificate holds.`,
    };
  }
  const where = `Check that the brokers in RELAY_KAFKA_BROKERS (${brokers.join(',')}) are reachable`;
  const protocol = security.ssl
    ? 'and that their listener speaks TLS (SSL or SASL_SSL)'
    : 'and, if their listener is SSL or SASL_SSL, set RELAY_KAFKA_TLS=true';
  const sasl = security.sasl
    ? ''
    : '; if it is SASL_PLAINTEXT or SASL_SSL, set RELAY_KAFKA_SASL_MECHANISM';
  return { retriable: true, hint: `${where} ${protocol}${sasl}.` };
}
