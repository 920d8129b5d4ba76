/**
 * A client of the Confluent Schema Registry REST API (also served by Apicurio's
 * `/apis/ccompat/v7` and Karapace), over fetch: the ids the wire format needs, the history the
 * compatibility check needs, and schemas by id for tests and tools. Ids are cached, so each
 * (subject, schema) costs one request per process.
 *
 * Errors are RelayError('REGISTRY'). A registry that does not answer, answers 5xx or 429 is
 * retriable (the publisher waits, as for a broker outage); a refusal (401, 403, 409, 422, ...)
 * is not, and its message carries what the registry said. The password never appears in a
 * message: requests carry it in an Authorization header, never in the URL.
 */
import type { RelayConfig } from '../config/schema.ts';
import { RelayError } from '../domain/errors.ts';
import type { RegistryIds } from './registry-wire-format.ts';
import type { RegistryHistory } from './schema-check.ts';

export interface RegistryClientOptions {
  /** Base URL, e.g. https://registry:8081 or http://apicurio:8080/apis/ccompat/v7. */
  url: string;
  username?: string;
  password?: string;
  /** Per request; default 10 s. */
  timeoutMs?: number;
}

export interface RegistryClient extends RegistryIds, RegistryHistory {
  /** The URL requests go to, without credentials: for messages. */
  readonly url: string;
  /** The schema text registered under an id. */
  schemaById(id: number): Promise<string>;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';
const ACCEPT = `${CONTENT_TYPE}, application/json`;
const DEFAULT_TIMEOUT_MS = 10_000;

/** The client the settings ask for, or null without RELAY_SCHEMA_REGISTRY_URL. */
export function registryClientFrom(
  config: Pick<
    RelayConfig,
    'schemaRegistryUrl' | 'schemaRegistryUsername' | 'schemaRegistryPassword'
  >,
  timeoutMs?: number,
): RegistryClient | null {
  if (!config.schemaRegistryUrl) return null;
  return createRegistryClient({
    url: config.schemaRegistryUrl,
    username: config.schemaRegistryUsername,
    password: config.schemaRegistryPassword,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  return new HttpRegistryClient(options);
}

interface RegistryAnswer {
  status: number;
  body: unknown;
}

class HttpRegistryClient implements RegistryClient {
  readonly url: string;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;
  /** `subject\0schema` → id, for both registration and lookup. */
  private readonly ids = new Map<string, number>();
  private readonly schemas = new Map<number, string>();

  constructor(options: RegistryClientOptions) {
    const base = new URL(options.url);
    let { username = '', password = '' } = options;
    // fetch() refuses URLs with credentials; take them out and send them as basic auth instead.
    if (base.username || base.password) {
      username ||= decodeURIComponent(base.username);
      password ||= decodeURIComponent(base.password);
      base.username = '';
      base.password = '';
    }
    this.url = base.href.replace(/\/+$/, '');
    this.authorization =
      username || password
        ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`
        : undefined;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  async register(subject: string, schema: string): Promise<number> {
    const key = `${subject}\u0000${schema}`;
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const path = `/subjects/${encodeURIComponent(subject)}/versions`;
    const answer = await this.request('POST', path, { schema, schemaType: 'AVRO' });
    if (answer.status !== 200)
      throw this.refusal(answer, `registering a schema under "${subject}"`);
    const id = idOf(answer.body, `POST ${path}`);
    this.ids.set(key, id);
    return id;
  }

  async lookup(subject: string, schema: string): Promise<number | null> {
    const key = `${subject}\u0000${schema}`;
    const known = this.ids.get(key);
    if (known !== undefined) return known;
    const path = `/subjects/${encodeURIComponent(subject)}`;
    const answer = await this.request('POST', path, { schema, schemaType: 'AVRO' });
    if (answer.status === 404) return null; // no such subject (40401) or schema under it (40403)
    if (answer.status !== 200) throw this.refusal(answer, `looking up a schema under "${subject}"`);
    const id = idOf(answer.body, `POST ${path}`);
    this.ids.set(key, id);
    return id;
  }

  async subjects(): Promise<string[]> {
    const answer = await this.request('GET', '/subjects');
    if (answer.status !== 200) throw this.refusal(answer, 'listing subjects');
    return stringArray(answer.body, 'GET /subjects');
  }

  async versions(subject: string): Promise<string[]> {
    const path = `/subjects/${encodeURIComponent(subject)}/versions`;
    const answer = await this.request('GET', path);
    if (answer.status === 404) return []; // no such subject (40401)
    if (answer.status !== 200) throw this.refusal(answer, `listing the versions of "${subject}"`);
    const numbers = numberArray(answer.body, `GET ${path}`).sort((a, b) => a - b);
    const texts: string[] = [];
    for (const version of numbers) {
      const answerV = await this.request('GET', `${path}/${version}`);
      if (answerV.status === 404) continue; // deleted since the listing
      if (answerV.status !== 200) {
        throw this.refusal(answerV, `reading version ${version} of "${subject}"`);
      }
      texts.push(schemaOf(answerV.body, `GET ${path}/${version}`));
    }
    return texts;
  }

  async schemaById(id: number): Promise<string> {
    const known = this.schemas.get(id);
    if (known !== undefined) return known;
    const path = `/schemas/ids/${id}`;
    const answer = await this.request('GET', path);
    if (answer.status !== 200) throw this.refusal(answer, `reading schema id ${id}`);
    const schema = schemaOf(answer.body, `GET ${path}`);
    this.schemas.set(id, schema);
    return schema;
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<RegistryAnswer> {
    const headers: Record<string, string> = { accept: ACCEPT };
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE;
    if (this.authorization) headers.authorization = this.authorization;
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `no answer within ${this.timeoutMs} ms`
          : describeFetchError(error);
      throw new RelayError(
        'REGISTRY',
        `the schema registry at ${this.url} did not answer ${method} ${path}: ${reason}`,
        {
          retriable: true,
          cause: error,
          hint: 'Check RELAY_SCHEMA_REGISTRY_URL and that the registry is up (the relay keeps retrying).',
        },
      );
    }
    return { status: response.status, body: parseBody(text) };
  }

  private refusal(answer: RegistryAnswer, doing: string): RelayError {
    const { status, body } = answer;
    const said = registryMessage(body);
    const retriable = status >= 500 || status === 429 || status === 408;
    const message = `the schema registry at ${this.url} answered ${status} when ${doing}${said ? `: ${said}` : ''}`;
    return new RelayError('REGISTRY', message, { retriable, hint: hintFor(status) });
  }
}

function hintFor(status: number): string {
  if (status === 401 || status === 403) {
    return 'Check RELAY_SCHEMA_REGISTRY_USERNAME and RELAY_SCHEMA_REGISTRY_PASSWORD (or _PASSWORD_FILE), and the rights of that user.';
  }
  if (status === 409) {
    return 'The registry holds the subject to a compatibility rule this schema breaks: `outbox-relay schemas check` names the field; evolve the schema compatibly, or register it under a new subject.';
  }
  if (status === 422) return 'The registry refused the schema as invalid; fix the .avsc file.';
  if (status === 404) {
    return 'Check that RELAY_SCHEMA_REGISTRY_URL is the API root (for Apicurio: http://host:8080/apis/ccompat/v7).';
  }
  if (status >= 500 || status === 429 || status === 408) return 'The relay retries meanwhile.';
  return 'Check RELAY_SCHEMA_REGISTRY_URL.';
}

function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return cause?.code ?? cause?.message ?? error.message;
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text.slice(0, 300);
  }
}

function errorCode(body: unknown): number | undefined {
  if (body && typeof body === 'object' && 'error_code' in body) {
    const code = body.error_code;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

function registryMessage(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body && typeof body === 'object' && 'message' in body) {
    const message = body.message;
    const code = errorCode(body);
    return `${String(message)}${code === undefined ? '' : ` (error_code ${code})`}`;
  }
  return '';
}

function malformed(what: string, body: unknown): RelayError {
  return new RelayError(
    'REGISTRY',
    `the schema registry's answer to ${what} is not what the Confluent API returns: ${JSON.stringify(body)?.slice(0, 200)}`,
    { hint: 'Check that RELAY_SCHEMA_REGISTRY_URL points at a Confluent-compatible API.' },
  );
}

function idOf(body: unknown, what: string): number {
  const id = body && typeof body === 'object' ? (body as { id?: unknown }).id : undefined;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw malformed(what, body);
  }
  return id;
}

function schemaOf(body: unknown, what: string): string {
  const schema =
    body && typeof body === 'object' ? (body as { schema?: unknown }).schema : undefined;
  if (typeof schema !== 'string') throw malformed(what, body);
  return schema;
}

function stringArray(body: unknown, what: string): string[] {
  if (!Array.isArray(body) || !body.every((s) => typeof s === 'string'))
    throw malformed(what, body);
  return body;
}

function numberArray(body: unknown, what: string): number[] {
  if (!Array.isArray(body) || !body.every((n) => typeof n === 'number'))
    throw malformed(what, body);
  return body;
}
