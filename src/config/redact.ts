/** Secrets never reach logs or printed configuration: these helpers hide them. */
import { isMultiHost } from '../domain/pg-hosts.ts';
import { SETTINGS, type RelayConfig, type SettingName } from './schema.ts';

/** Replaces the password of a connection URL, keeping what helps debugging (user, host, db). */
export function redactUrl(url: string): string {
  if (isMultiHost(url)) return redactMultiHost(url);
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '*****';
    // node-postgres also takes the password from the query string.
    for (const key of ['password', 'sslpassword']) {
      if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '*****');
    }
    return parsed.toString();
  } catch {
    return '*****';
  }
}

/** `postgres://u:pw@a,b/db`: not a WHATWG URL, so the password and password params by pattern. */
function redactMultiHost(url: string): string {
  return url
    .replace(/^([a-z]+:\/\/[^:@/?#]*:)[^@/?#]*@/i, '$1*****@')
    .replace(/([?&](?:password|sslpassword)=)[^&#]*/g, '$1*****');
}

export function redactConfig(config: RelayConfig): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const name of Object.keys(config) as SettingName[]) {
    const value = config[name];
    shown[name] = redactValue(name, value);
  }
  return shown;
}

/**
 * A secret URL keeps all but its password; any other secret is hidden whole (a password such as
 * `p:w` parses as a URL without a password, so it must not go through redactUrl). An empty
 * secret is shown as empty: that it is unset helps debugging and reveals nothing.
 */
function redactValue(name: SettingName, value: unknown): unknown {
  const spec: { secret?: boolean | 'url' } = SETTINGS[name];
  if (!spec.secret || typeof value !== 'string') return value;
  if (spec.secret === 'url') return redactUrl(value);
  return value === '' ? '' : '*****';
}
