/**
 * The test run's schema registry, spoken to as a Confluent Schema Registry client would: the
 * harness gives Apicurio Registry's Confluent-compatible API (scripts/services/registry.ts).
 */
import type { BasicAuth, Services } from '../../scripts/services/index.ts';
import { basicAuthHeader } from '../../scripts/services/registry.ts';

export const REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/**
 * For node:test's `skip` option: a reason when this run has no registry (kind 'env' without
 * RELAY_TEST_REGISTRY_URL), false when there is one.
 */
export function registrySkip(services: Services): string | false {
  return (
    !services.registryUrl &&
    'no schema registry: set RELAY_TEST_REGISTRY_URL with RELAY_TEST_PG_URL and ' +
      'RELAY_TEST_KAFKA_BROKERS, or unset all three to let scripts/with-services.ts start one'
  );
}

/** The registry's base URL; throws with the same advice when there is none. */
export function requireRegistry(services: Services): string {
  const skip = registrySkip(services);
  if (skip) throw new Error(skip);
  return services.registryUrl;
}

export interface RegistryReply {
  status: number;
  body: unknown;
}

/** One request to the ccompat API; the JSON body of the reply, whatever its status. */
export async function registryRequest(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  auth?: BasicAuth,
): Promise<RegistryReply> {
  const headers: Record<string, string> = { accept: REGISTRY_CONTENT_TYPE };
  if (body !== undefined) headers['content-type'] = REGISTRY_CONTENT_TYPE;
  if (auth) headers.authorization = basicAuthHeader(auth);
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

/** Registers an Avro schema (an object, sent as its JSON text) and returns its id. */
export async function registerAvro(url: string, subject: string, schema: object): Promise<number> {
  const path = `/subjects/${encodeURIComponent(subject)}/versions`;
  const reply = await registryRequest(url, 'POST', path, {
    schema: JSON.stringify(schema),
    schemaType: 'AVRO',
  });
  const id = (reply.body as { id?: unknown } | undefined)?.id;
  if (reply.status !== 200 || typeof id !== 'number') {
    throw new Error(
      `registering under ${subject} answered ${reply.status} ${JSON.stringify(reply.body)}`,
    );
  }
  return id;
}
