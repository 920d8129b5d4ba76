/**
 * Builds the one frozen configuration object at start: defaults < environment < flags. Every
 * problem is reported at once, each naming its setting and what to do.
 */
import { RelayError } from '../domain/errors.ts';
import { SETTINGS, type RelayConfig, type SettingName } from './schema.ts';

export type ConfigSource = 'default' | 'env' | 'flag';

export interface LoadedConfig {
  readonly config: RelayConfig;
  readonly sources: Readonly<Record<SettingName, ConfigSource>>;
}

export interface ConfigInput {
  env?: NodeJS.ProcessEnv;
  /** Values from CLI flags, by setting name. */
  flags?: Partial<Record<SettingName, string | undefined>>;
  /** Settings this command does not use; not required. */
  optional?: readonly SettingName[];
}

export function loadConfig(input: ConfigInput = {}): LoadedConfig {
  const env = input.env ?? process.env;
  const values: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(SETTINGS) as [
    SettingName,
    (typeof SETTINGS)[SettingName],
  ][]) {
    const fromFlag = input.flags?.[name];
    const fromEnv = env[spec.env];
    const [raw, source] = pick(fromFlag, fromEnv, 'default' in spec ? spec.default : undefined);
    if (raw === undefined) {
      if (!input.optional?.includes(name)) problems.push(missing(spec.env, spec.flag));
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) {
      values[name] = parsed.data;
      sources[name] = source;
    } else {
      problems.push(invalid(spec, raw, source, parsed.error.issues[0]?.message ?? 'invalid'));
    }
  }
  if (problems.length > 0) {
    throw new RelayError(
      'CONFIG_INVALID',
      `invalid configuration:\n  - ${problems.join('\n  - ')}`,
      {
        hint: 'Fix the settings named above (see "Configuration" in the README) and start again.',
      },
    );
  }
  return {
    config: deepFreeze(values) as RelayConfig,
    sources: Object.freeze(sources),
  };
}

function pick(
  flag: string | undefined,
  env: string | undefined,
  fallback: string | undefined,
): [string | undefined, ConfigSource] {
  if (flag !== undefined) return [flag, 'flag'];
  if (env !== undefined && env !== '') return [env, 'env'];
  return [fallback, 'default'];
}

function missing(env: string, flag: string | undefined): string {
  const how = flag ? `set ${env} or pass --${flag}` : `set ${env}`;
  return `${env} is required: ${how}`;
}

function invalid(
  spec: { env: string; flag?: string; secret?: boolean },
  raw: string,
  source: ConfigSource,
  message: string,
): string {
  const where = source === 'flag' ? `--${spec.flag}` : spec.env;
  const shown = spec.secret ? '(value hidden)' : JSON.stringify(raw);
  return `${where}: ${message}; got ${shown}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
