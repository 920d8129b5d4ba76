/**
 * PostgreSQL over TLS with sslmode=verify-full in RELAY_PG_URL: node-postgres reads the URL's
 * sslmode and sslrootcert for every connection the relay opens, the replication one included.
 * The harness's cluster has ssl=on with a certificate for localhost and 127.0.0.1.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import type { PostgresTlsInfo } from '../../scripts/services/index.ts';
import type { Finding } from '../../src/admin/doctor.ts';
import { planEvents, services, writeTransactions } from '../support/fixtures.ts';
import { runCli, startRelayInProcess, waitFor } from '../support/relay.ts';
import { readBack, scenario, type Scenario } from '../support/scenario.ts';

let tls: PostgresTlsInfo | undefined;
let s: Scenario | undefined;

before(async () => {
  tls = (await services()).pgTls;
  if (tls) s = await scenario('pg_tls');
});

after(async () => {
  await s?.cleanup();
});

function tlsCluster(t: TestContext): { tls: PostgresTlsInfo; s: Scenario } | null {
  if (tls && s) return { tls, s };
  t.skip('the cluster has no TLS set up by the harness (RELAY_TEST_* servers or testcontainers)');
  return null;
}

/** The scenario's URL with TLS parameters, and optionally another host. */
function verifyFull(pgUrl: string, caFile: string, host?: string): string {
  const url = new URL(pgUrl);
  if (host) url.hostname = host;
  url.searchParams.set('sslmode', 'verify-full');
  url.searchParams.set('sslrootcert', caFile);
  return url.toString();
}

test('relays end to end with sslmode=verify-full, the replication connection over TLS too', async (t) => {
  const found = tlsCluster(t);
  if (!found) return;
  const url = verifyFull(found.s.pgUrl, found.tls.caFile, 'localhost');
  const transactions = planEvents({ total: 30, aggregates: 3, sizes: [1, 4] });
  const relay = startRelayInProcess({ ...found.s.env, RELAY_PG_URL: url });
  try {
    await waitFor(() => relay.health.ready().ok, 20_000, 'the relay to stream');
    const { rows } = await found.s.pool.query<{ ssl: boolean; backend_type: string }>(
      `SELECT s.ssl, a.backend_type FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
        WHERE a.application_name = $1`,
      [`outbox-relay:${found.s.names.slot}`],
    );
    assert.deepEqual(rows, [{ ssl: true, backend_type: 'walsender' }]);
    await writeTransactions(found.s.pool, found.s.names, transactions);
    const count = await readBack(found.s, transactions.flat(), 30_000);
    assert.deepEqual(
      { lost: count.lost, duplicated: count.duplicated },
      { lost: 0, duplicated: 0 },
    );
  } finally {
    await relay.stop();
  }
});

test('a server certificate from another CA stops the relay at start, pointing at sslrootcert', async (t) => {
  const found = tlsCluster(t);
  if (!found) return;
  const otherCa = (await services()).kafkaSecurity?.caFile;
  if (!otherCa) return t.skip('no second test CA (the Kafka one) to verify against');
  const env = { ...found.s.env, RELAY_PG_URL: verifyFull(found.s.pgUrl, otherCa) };
  const result = await runCli(['run'], env, 30_000);
  assert.equal(result.code, 1, result.stderr);
  assert.match(
    result.stderr,
    /cannot connect to PostgreSQL: unable to verify the first certificate/,
  );
  assert.match(
    result.stderr,
    /what to do: The server's TLS certificate did not verify \([A-Z_]+\): check sslrootcert in RELAY_PG_URL/,
  );
});

test('verify-full checks the host name: a name the certificate does not hold fails', async (t) => {
  const found = tlsCluster(t);
  if (!found) return;
  // "127.1" is 127.0.0.1 to the resolver (inet_aton's short form) but a host *name* to TLS, and
  // the certificate holds only localhost and 127.0.0.1: the same server, the wrong name.
  const address = await lookup('127.1', { family: 4 }).catch(() => null);
  if (address?.address !== '127.0.0.1') return t.skip('127.1 does not resolve to 127.0.0.1 here');
  const env = {
    ...found.s.env,
    RELAY_PG_URL: verifyFull(found.s.pgUrl, found.tls.caFile, '127.1'),
  };
  const result = await runCli(['doctor', '--json'], env);
  const postgres = (JSON.parse(result.stdout) as Finding[]).find((f) => f.name === 'postgres');
  assert.equal(postgres?.status, 'fail', result.stdout);
  assert.match(postgres.detail, /Hostname\/IP does not match certificate's altnames/);
  assert.match(
    postgres.fix ?? '',
    /ERR_TLS_CERT_ALTNAME_INVALID.*the URL's host is a name or address the certificate holds/,
  );
});

test('doctor passes its PostgreSQL checks with sslmode=verify-full', async (t) => {
  const found = tlsCluster(t);
  if (!found) return;
  const env = { ...found.s.env, RELAY_PG_URL: verifyFull(found.s.pgUrl, found.tls.caFile) };
  const result = await runCli(['doctor', '--json'], env);
  const postgres = (JSON.parse(result.stdout) as Finding[]).find((f) => f.name === 'postgres');
  assert.equal(postgres?.status, 'ok', result.stdout);
  assert.match(postgres.detail, /sslmode=verify-full/);
});
