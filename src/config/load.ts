/**
 * Builds the one frozen configuration object at start: defaults < environment < flags. Every
 * problem is reported at once, each naming its setting and what to do. A secret setting may come
 * from the file named by `<ENV>_FILE` instead of `<ENV>` (Docker and Kubernetes secrets).
 */
import { readFileSync } from 'node:fs';
import { RelayError } from '../domain/errors.ts';
import { RULES, SETTINGS, type RelayConfig, type SettingName } from './schema.ts';

export type ConfigSource = 'default' | 'env' | 'file' | 'flag';

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
  /** Check the rules between settings (default true); off when one setting is loaded alone. */
  rules?: boolean;
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
    const fromEnv = readEnv(spec, env);
    if ('problem' in fromEnv) {
      problems.push(fromEnv.problem);
      continue;
    }
    if (fromFlag === undefined && fromEnv.value === '' && 'emptyIsInvalid' in spec) {
      problems.push(setButEmpty(spec));
      continue;
    }
    const [raw, source] = pick(fromFlag, fromEnv, 'default' in spec ? spec.default : undefined);
    if (raw === undefined) {
      if (!input.optional?.includes(name)) problems.push(missing(spec));
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
  if (problems.length === 0 && input.rules !== false) {
    for (const rule of RULES) {
      const problem = rule(values as RelayConfig);
      if (problem) problems.push(problem);
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
  env: EnvValue,
  fallback: string | undefined,
): [string | undefined, ConfigSource] {
  if (flag !== undefined) return [flag, 'flag'];
  if (env.source === 'file') return [env.value, 'file'];
  if (env.value !== undefined && env.value !== '') return [env.value, 'env'];
  return [fallback, 'default'];
}

interface EnvValue {
  value: string | undefined;
  source: 'env' | 'file';
}

/**
 * A setting's variable or, for a secret, the content of the file `<ENV>_FILE` names, less its
 * trailing line break. Setting both is a mistake to report, not a precedence to guess at.
 */
function readEnv(
  spec: { env: string; secret?: boolean | 'url' },
  env: NodeJS.ProcessEnv,
): EnvValue | { problem: string } {
  const name = spec.env;
  const path = spec.secret ? env[`${name}_FILE`] : undefined;
  if (path === undefined || path === '') return { value: env[name], source: 'env' };
  if (env[name] !== undefined && env[name] !== '') {
    return { problem: `${name} and ${name}_FILE are both set: set only one of them` };
  }
  try {
    return { value: readFileSync(path, 'utf8').replace(/[\r\n]+$/, ''), source: 'file' };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { problem: `${name}_FILE: cannot read the file ${JSON.stringify(path)} (${reason})` };
  }
}

function missing({
  env,
  flag,
  secret,
}: {
  env: string;
  flag?: string;
  secret?: boolean | 'url';
}): string {
  const set = secret ? `set ${env} (or ${env}_FILE)` : `set ${env}`;
  return `${env} is required: ${flag ? `${set} or pass --${flag}` : set}`;
}

function setButEmpty({ env, default: fallback }: { env: string; default?: string }): string {
  return `${env} is set but empty: unset it to take the default (${fallback ?? 'none'}), or give a value`;
}

function invalid(
  spec: { env: string; flag?: string; secret?: boolean | 'url' },
  raw: string,
  source: ConfigSource,
  message: string,
): string {
  const where =
    source === 'flag' ? `--${spec.flag}` : source === 'file' ? `${spec.env}_FILE` : spec.env;
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
