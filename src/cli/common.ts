/** What every command shares: settings from flags, and errors turned into exit codes. */
import type { Command } from 'commander';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { SETTINGS, type SettingName } from '../config/schema.ts';
import { errorStack, RelayError } from '../domain/errors.ts';

/** Every command's exit codes; `run` passes its own to the supervisor (ops/lifecycle.ts). */
export const EXIT = {
  ok: 0,
  failed: 1,
  config: 2,
  shutdownTimeout: 3,
  confirmationNeeded: 4,
} as const;

/** When each exit code is used; the README's exit-code table is rendered from it. */
export const EXIT_MEANINGS: Readonly<Record<keyof typeof EXIT, string>> = {
  ok: 'success or clean stop',
  failed: 'failure (the message says what to do)',
  config: 'invalid configuration or usage',
  shutdownTimeout:
    'the stop did not finish within `RELAY_SHUTDOWN_TIMEOUT_MS` (events not yet acknowledged by Kafka are sent again after a restart)',
  confirmationNeeded:
    'a confirmation is needed: `offsets reset` without `--yes` printed its plan and changed nothing, or `prune` found that the slot did not confirm within `--wait-ms` and deleted nothing',
};

/** Adds `--<flag>` options for the settings that have one. */
export function addSettingFlags(command: Command, names: readonly SettingName[]): Command {
  for (const name of names) {
    const spec = SETTINGS[name];
    if ('flag' in spec && spec.flag)
      command.option(`--${spec.flag} <value>`, `${spec.doc} (env ${spec.env})`);
  }
  return command;
}

/**
 * A command's options as commander hands them over (camel-cased flags). Declared per command as
 * a type alias, which leaves room for the setting flags that addSettingFlags adds and
 * configFromFlags reads by name.
 */
export type SettingFlagValues = Readonly<Record<string, unknown>>;

export function configFromFlags(
  options: SettingFlagValues,
  optional: readonly SettingName[] = [],
): LoadedConfig {
  const flags: Partial<Record<SettingName, string>> = {};
  for (const [name, spec] of Object.entries(SETTINGS) as [
    SettingName,
    (typeof SETTINGS)[SettingName],
  ][]) {
    if (!('flag' in spec) || !spec.flag) continue;
    const value = options[camel(spec.flag)];
    if (typeof value === 'string') flags[name] = value;
  }
  return loadConfig({ flags, optional });
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Prints an error for a person (message, then what to do) and returns the exit code. */
export function reportError(error: unknown): number {
  if (error instanceof RelayError) {
    process.stderr.write(`outbox-relay: ${error.message}\n`);
    if (error.hint) process.stderr.write(`  what to do: ${error.hint}\n`);
    return error.code === 'CONFIG_INVALID' ? EXIT.config : EXIT.failed;
  }
  process.stderr.write(`outbox-relay: ${errorStack(error)}\n`);
  return EXIT.failed;
}
