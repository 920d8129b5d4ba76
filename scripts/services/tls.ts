/**
 * A throwaway PKI for the TLS tests, made with the openssl command at start: a CA, and
 * certificates it signs for the local servers (and a client). EC P-256 keys, unencrypted PKCS#8
 * PEM (what Kafka's PEM keystores and PostgreSQL both read), valid for two days.
 */
import { join } from 'node:path';
import { run } from './proc.ts';

export interface CertificateFiles {
  certFile: string;
  keyFile: string;
}

/** Names every local server is reached by, put in each server certificate's subjectAltName. */
export const LOCAL_NAMES = ['DNS:localhost', 'IP:127.0.0.1'];

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = ['-days', '2'];

/** A self-signed CA as `<dir>/<name>.crt` and `<dir>/<name>.key`. */
export async function makeCa(dir: string, name: string): Promise<CertificateFiles> {
  const files = filesOf(dir, name);
  await run([
    'openssl',
    'req',
    '-x509',
    ...KEY,
    ...DAYS,
    '-keyout',
    files.keyFile,
    '-out',
    files.certFile,
    '-subj',
    `/CN=outbox-relay test CA ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return files;
}

/**
 * A leaf certificate signed by `ca`. A server certificate names `altNames` (e.g. LOCAL_NAMES);
 * a client certificate is for mutual TLS and names only its common name.
 */
export async function makeCertificate(
  dir: string,
  name: string,
  ca: CertificateFiles,
  opts: { altNames?: string[]; client?: boolean } = {},
): Promise<CertificateFiles> {
  const files = filesOf(dir, name);
  const san = opts.altNames?.length ? ['-addext', `subjectAltName=${opts.altNames.join(',')}`] : [];
  await run([
    'openssl',
    'req',
    '-x509',
    ...KEY,
    ...DAYS,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-keyout',
    files.keyFile,
    '-out',
    files.certFile,
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:FALSE',
    '-addext',
    `extendedKeyUsage=${opts.client ? 'clientAuth' : 'serverAuth'}`,
    ...san,
  ]);
  return files;
}

function filesOf(dir: string, name: string): CertificateFiles {
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}
