import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ServicesState } from './types.ts';

export async function readState(path: string): Promise<ServicesState> {
  const text = await readFile(path, 'utf8').catch((err: Error) => {
    throw new Error(`cannot read the services state file ${path} (RELAY_TEST_SERVICES_STATE)`, {
      cause: err,
    });
  });
  const state = JSON.parse(text) as ServicesState;
  if (state.version !== 1) throw new Error(`${path}: unknown services state version`);
  return state;
}

/** Write-then-rename, so a reader in another process never sees half a file. */
export async function writeState(path: string, state: ServicesState): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temp, path);
}
