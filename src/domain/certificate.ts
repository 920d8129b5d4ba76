/**
 * A TLS peer whose certificate does not verify is a configuration problem (wrong CA file, wrong
 * host name), not an outage: trying again with the same settings cannot help. Node reports
 * OpenSSL's verdict as `error.code`; kafkajs and node-postgres pass it on, sometimes wrapped.
 */
import { findInChain } from './errors.ts';

const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The certificate-verification code anywhere in an error's chain (kafkajs and pg wrap them). */
export function certificateFailure(error: unknown): string | undefined {
  return findInChain(error, (e) => {
    const code = (e as Error & { code?: unknown }).code;
    return typeof code === 'string' && CERTIFICATE_CODES.has(code) ? code : undefined;
  });
}
