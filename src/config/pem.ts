/**
 * Checks of the PEM files that settings name (Kafka's CA bundle, client certificate and key,
 * the files in RELAY_PG_URL's sslrootcert/sslcert/sslkey). They run while the configuration is
 * loaded, so that a missing or wrong file stops the relay at start, naming its setting, instead
 * of failing the first connection minutes later. The contents are never returned or printed.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';

export type PemKind = 'certificate' | 'private key';

/** Why `path` is not a readable PEM file of this kind, or null when it is. */
export function pemFileProblem(path: string, kind: PemKind): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return `cannot read the file ${JSON.stringify(path)} (${reason}): give the path of a PEM file the relay can read`;
  }
  return kind === 'certificate' ? certificateProblem(path, text) : keyProblem(path, text);
}

function certificateProblem(path: string, text: string): string | null {
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    return `${JSON.stringify(path)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`;
  }
  try {
    new X509Certificate(text);
    return null;
  } catch {
    return `${JSON.stringify(path)} holds a certificate that cannot be parsed`;
  }
}

function keyProblem(path: string, text: string): string | null {
  if (/ENCRYPTED/.test(text)) {
    return `${JSON.stringify(path)} holds an encrypted key: give an unencrypted PEM key (protect the file instead)`;
  }
  try {
    createPrivateKey(text);
    return null;
  } catch {
    return `${JSON.stringify(path)} holds no PEM private key`;
  }
}

/** Why the certificate in `certPath` does not belong to the key in `keyPath`, or null. */
export function keyPairProblem(certPath: string, keyPath: string): string | null {
  try {
    const cert = new X509Certificate(readFileSync(certPath, 'utf8'));
    const key = createPrivateKey(readFileSync(keyPath, 'utf8'));
    return cert.checkPrivateKey(key) ? null : 'the certificate and the key do not belong together';
  } catch {
    return null; // each file's own check reports what is wrong with it
  }
}
