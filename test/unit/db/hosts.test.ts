import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fits, splitHosts } from '../../../src/db/hosts.ts';

test('a one-host URL is its own host list, with any session accepted', () => {
  const url = 'postgres://relay:secret@db:5432/app?sslmode=require';
  assert.deepEqual(splitHosts(url), { urls: [url], attrs: 'any' });
});

test('hosts in the authority become one URL each, keeping user, database and parameters', () => {
  const list = splitHosts(
    'postgres://relay:p%40ss@a:5432,b:5433/app?sslmode=verify-full&target_session_attrs=read-write',
  );
  assert.equal(list.attrs, 'read-write');
  assert.deepEqual(list.urls, [
    'postgres://relay:p%40ss@a:5432/app?sslmode=verify-full',
    'postgres://relay:p%40ss@b:5433/app?sslmode=verify-full',
  ]);
});

test("libpq's host= and port= parameters become one URL each; one port serves every host", () => {
  assert.deepEqual(
    splitHosts('postgresql://relay@/app?host=a,b&port=5001,5002&target_session_attrs=primary'),
    {
      urls: ['postgresql://relay@a:5001/app', 'postgresql://relay@b:5002/app'],
      attrs: 'primary',
    },
  );
  assert.deepEqual(splitHosts('postgres://relay@/app?host=a,b&port=6000').urls, [
    'postgres://relay@a:6000/app',
    'postgres://relay@b:6000/app',
  ]);
});

test('an unsupported target_session_attrs is a configuration error naming the setting', () => {
  assert.throws(
    () => splitHosts('postgres://a,b/app?target_session_attrs=standby'),
    /RELAY_PG_URL: target_session_attrs=standby/,
  );
});

test('read-write and primary skip a server in recovery; any takes it', () => {
  assert.equal(fits('read-write', true), false);
  assert.equal(fits('primary', false), true);
  assert.equal(fits('any', true), true);
});
