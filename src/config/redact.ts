/** Secrets never reach logs or printed configuration: these helpers hide them. */
import { SETTINGS, type RelayConfig, type SettingName } from './schema.ts';

/** Replaces the password of a connection URL, keeping what helps debugging (user, host, db). */
export function redactUrl(url: string): string {
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

export function redactConfig(config: RelayConfig): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const name of Object.keys(config) as SettingName[]) {
    const value = config[name];
    const secret = 'secret' in SETTINGS[name] && SETTINGS[name].secret;
    shown[name] = secret && typeof value === 'string' ? redactUrl(value) : value;
  }
  return shown;
}
