import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fits, hostOf, isMultiHost, splitHosts } from '../../../src/domain/pg-hosts.ts';
import { chooseHost, hostUrl } from '../../../src/db/hosts.ts';

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

test('one host with target_session_attrs: honoured by the relay, removed from the URL node-postgres reads', () => {
  assert.deepEqual(splitHosts('postgres://relay@db:5432/app?target_session_attrs=read-write'), {
    urls: ['postgres://relay@db:5432/app'],
    attrs: 'read-write',
  });
  assert.deepEqual(splitHosts('postgres://relay@/app?host=db&target_session_attrs=primary'), {
    urls: ['postgres://relay@/app?host=db'],
    attrs: 'primary',
  });
});

test('connections use the host last chosen for a multi-host URL, the first one before that', () => {
  const url = 'postgres://relay@a:1,b:2/app?target_session_attrs=read-write';
  assert.equal(hostUrl(url), 'postgres://relay@a:1/app');
  chooseHost(url, 'postgres://relay@b:2/app');
  assert.equal(hostUrl(url), 'postgres://relay@b:2/app');
  assert.equal(hostOf(hostUrl(url)), 'b:2');
  const single = 'postgres://relay:secret@db/app?sslmode=require';
  assert.equal(hostUrl(single), single);
  assert.equal(isMultiHost(url), true);
  assert.equal(isMultiHost(single), false);
});
