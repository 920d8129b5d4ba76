/**
 * `outbox-relay config show`: the resolved configuration, one line per setting with where its
 * value came from (default, env, flag), secrets redacted. It also shows an incomplete or
 * invalid configuration, each problem on its setting's line. Exit codes: 0 when `run` would
 * accept the configuration, 2 when not (the problems also go to stderr, as `run` prints them).
 */
import { Command } from 'commander';
import { loadConfig, type ConfigInput, type ConfigSource } from '../config/load.ts';
import { redactConfig } from '../config/redact.ts';
import { SETTINGS, type RelayConfig, type SettingName } from '../config/schema.ts';
import { RelayError } from '../domain/errors.ts';
import { parseTopicTemplate } from '../route/index.ts';
import { addSettingFlags, configFromFlags, EXIT, reportError } from './common.ts';
import type { SettingFlagValues } from './common.ts';

const NAMES = Object.keys(SETTINGS) as SettingName[];

export interface SettingLine {
  readonly name: SettingName;
  readonly env: string;
  readonly flag: string | null;
  /** Redacted when secret; null when missing or invalid. */
  readonly value: unknown;
  readonly source: ConfigSource | null;
  readonly problem?: 'missing' | 'invalid';
  /** Why the setting has no value, naming where an invalid value came from. */
  readonly error?: string;
}

interface Resolved {
  readonly value?: unknown;
  readonly source?: ConfigSource;
  readonly problem?: 'missing' | 'invalid';
  readonly error?: string;
}

export function configCommand(): Command {
  return new Command('config').description('Inspect the configuration.').addCommand(showCommand());
}

type ShowOptions = { readonly json?: true };

function showCommand(): Command {
  const command = new Command('show')
    .description(
      'Print every setting with its environment variable, where its value came from (default, env, flag) and the value, secrets redacted. Exit 0: the configuration is complete and valid; 2: a setting is missing or invalid (named on its line).',
    )
    .option('--json', 'print the settings as a JSON array');
  addSettingFlags(command, NAMES);
  return command.action((options: ShowOptions, self: Command) => {
    const lines = settingLines(flagValues(self, options));
    process.stdout.write(options.json ? `${JSON.stringify(lines)}\n` : formatLines(lines));
    process.exitCode = verdict(options);
  });
}

/** The value each setting's flag was given, by setting name. */
function flagValues(command: Command, options: SettingFlagValues) {
  const flags: Partial<Record<SettingName, string>> = {};
  for (const name of NAMES) {
    const spec = SETTINGS[name];
    const option = 'flag' in spec ? command.options.find((o) => o.long === `--${spec.flag}`) : null;
    const value = option ? options[option.attributeName()] : undefined;
    if (typeof value === 'string') flags[name] = value;
  }
  return flags;
}

function settingLines(flags: Partial<Record<SettingName, string>>): SettingLine[] {
  const resolved = new Map(NAMES.map((name) => [name, resolveOne(name, flags[name])]));
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const [name, r] of resolved) if (r.problem === undefined) values[name] = r.value;
  // redactConfig reads only the settings present, so a partial configuration is safe to pass.
  const shown = redactConfig(values as RelayConfig);
  return NAMES.map((name) => {
    const spec: { env: string; flag?: string } = SETTINGS[name];
    const { source, problem, error } = resolved.get(name) ?? {};
    return {
      name,
      env: spec.env,
      flag: spec.flag ?? null,
      value: problem === undefined ? shown[name] : null,
      source: source ?? null,
      ...(problem === undefined ? {} : { problem, error }),
    };
  });
}

/**
 * One setting through the same loader `run` uses, alone (every other setting optional and
 * absent), so that a problem with one does not hide the others.
 */
function resolveOne(name: SettingName, flag: string | undefined): Resolved {
  const input = { env: ownVariables(SETTINGS[name].env), flags: { [name]: flag } };
  try {
    const { config, sources } = loadConfig({ ...input, optional: without(name), rules: false });
    return { value: config[name], source: sources[name] };
  } catch (error) {
    if (!(error instanceof RelayError) || error.code !== 'CONFIG_INVALID') throw error;
    // A value that is merely absent passes once the setting is optional too.
    const problem = loads({ ...input, optional: NAMES, rules: false }) ? 'missing' : 'invalid';
    // loadConfig lists its problems as "  - <problem>" lines; here there is exactly one.
    return { problem, error: error.message.split('\n  - ').slice(1).join('; ') };
  }
}

/** The setting's variable and its companions (`<ENV>_FILE` for a secret). */
function ownVariables(env: string): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([key]) => key === env || key.startsWith(`${env}_`)),
  );
}

function without(name: SettingName): SettingName[] {
  return NAMES.filter((n) => n !== name);
}

function loads(input: ConfigInput): boolean {
  try {
    loadConfig(input);
    return true;
  } catch {
    return false;
  }
}

/** The configuration as a whole, as `run` checks it at start. */
function verdict(options: SettingFlagValues): number {
  try {
    parseTopicTemplate(configFromFlags(options).config.topicTemplate);
    return EXIT.ok;
  } catch (error) {
    return reportError(error);
  }
}

function formatLines(lines: readonly SettingLine[]): string {
  const width = (pick: (l: SettingLine) => string) => Math.max(...lines.map((l) => pick(l).length));
  const nameWidth = width((l) => l.name);
  const envWidth = width((l) => l.env);
  const rows = lines.map((l) => {
    const shown = l.problem === undefined ? JSON.stringify(l.value) : `(${l.problem}) ${l.error}`;
    return `${l.name.padEnd(nameWidth)}  ${l.env.padEnd(envWidth)}  ${(l.source ?? '-').padEnd(7)}  ${shown}`;
  });
  return `${rows.join('\n')}\n`;
}
