/**
 * The Dockerfile without a Docker engine: its stages executed in temp dirs by
 * scripts/dockerfile-steps.ts (the base image approximated by this machine and its Node), then
 * the image's command and HEALTHCHECK run from the final stage against the test's services.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DOCKERFILE_PATH,
  REPO_ROOT,
  executeStages,
  healthcheckCommand,
  imageCommand,
  parseDockerfile,
  removeBuild,
  runProcess,
  spawnImage,
  tail,
  type Build,
} from '../../scripts/dockerfile-steps.ts';
import { freePort } from '../../scripts/services/net.ts';
import { scenario, type Scenario } from '../support/scenario.ts';
import { waitFor } from '../support/relay.ts';

const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let build: Build | undefined;
let s: Scenario | undefined;

before(
  async () => {
    // npm ci in a clean folder: tens of seconds, more on a cold npm cache.
    build = await executeStages(parseDockerfile(readFileSync(DOCKERFILE_PATH, 'utf8')));
    s = await scenario('dockerfile');
  },
  { timeout: 300_000 },
);

after(async () => {
  await removeBuild(build);
  await s?.cleanup();
});

function app(...path: string[]): string {
  const { root, workdir } = (build as Build).final;
  return join(root, workdir, ...path);
}

test('the final stage holds the compiled CLI, migrations, schemas and production dependencies only', () => {
  for (const path of ['dist/cli/main.js', 'package.json', 'schemas/outbox-envelope.avsc'])
    assert.ok(existsSync(app(path)), `${path} is missing from the final stage`);
  assert.ok(existsSync(app('migrations', '0001_outbox_table.sql')), 'migrations/ is missing');
  for (const name of Object.keys(pkg.dependencies))
    assert.ok(existsSync(app('node_modules', name)), `dependency ${name} is missing`);
  for (const name of Object.keys(pkg.devDependencies))
    assert.ok(!existsSync(app('node_modules', name)), `devDependency ${name} is in the image`);
  assert.ok(!existsSync(app('src')), 'the TypeScript sources stay in the build stage');
});

test('the port the image exposes is the one its environment tells the relay to listen on', () => {
  const { stage, env } = (build as Build).final;
  assert.deepEqual(stage.expose, [env.RELAY_HTTP_PORT]);
});

test('the image command starts a relay that becomes ready, passes the HEALTHCHECK and exits 0 on SIGTERM', async (t) => {
  const port = String(await freePort());
  const env = { ...(s as Scenario).env, RELAY_HTTP_PORT: port };
  const command = imageCommand(build as Build, { env });
  assert.deepEqual(command.argv.slice(-1), ['run'], 'CMD is `run`');
  const relay = spawnImage(command);
  const output = collect(relay);
  const exited = new Promise<number | null>((resolve) => relay.once('exit', resolve));
  try {
    await t.test('/readyz answers 200 within 30 s', async () => {
      await waitFor(() => ready(relay, port, output), 30_000, '/readyz to answer 200');
    });
    await t.test('the HEALTHCHECK command exits 0 while the relay runs', async () => {
      const check = healthcheckCommand(build as Build, env);
      const result = await runProcess(check, check.timeoutMs);
      assert.equal(result.code, 0, `HEALTHCHECK failed: ${result.signal ?? ''} ${result.output}`);
    });
  } finally {
    if (relay.exitCode === null) relay.kill('SIGTERM');
  }
  assert.equal(await exited, 0, tail(output.text));
});

function collect(child: ChildProcess): { text: string } {
  const output = { text: '' };
  child.stdout?.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  return output;
}

async function ready(relay: ChildProcess, port: string, output: { text: string }) {
  if (relay.exitCode !== null) throw new Error(`the relay exited early:\n${tail(output.text)}`);
  const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
  await response?.body?.cancel();
  return response?.status === 200;
}
