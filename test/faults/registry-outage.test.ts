import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import { parseLsn } from '../../src/domain/lsn.ts';
import { createRegistryClient } from '../../src/encode/registry-client.ts';
import { CONFLUENT_HEADER_LENGTH } from '../../src/encode/registry-wire-format.ts';
import { consumeAll } from '../support/consume.ts';
import { countDelivery, type Delivered } from '../support/delivery.ts';
import { planEvents, services, writeTransactions } from '../support/fixtures.ts';
import { registrySkip } from '../support/registry.ts';
import { spawnRelay, waitFor } from '../support/relay.ts';
import { published, scenario, stopRelay } from '../support/scenario.ts';
import { confirmedFlush } from '../support/slot.ts';

const all = await services();

async function readyz(port: number): Promise<{ code: number; status?: string }> {
  return fetch(`http://127.0.0.1:${port}/readyz`).then(
    async (r) => ({ code: r.status, ...((await r.json()) as { status?: string }) }),
    () => ({ code: 0 }),
  );
}

test(
  'a registry outage: values wait for their ids, nothing is published or acknowledged meanwhile, and it recovers alone',
  { skip: registrySkip(all) || (all.kind === 'env' && 'needs a registry the harness can stop') },
  async (t) => {
    const s = await scenario('registry_outage', { RELAY_SCHEMA_REGISTRY_URL: all.registryUrl });
    const transactions = planEvents({ total: 3_000, aggregates: 50, sizes: [1, 20, 5, 100] });
    const events = transactions.flat();
    const relay = spawnRelay(s.env);
    try {
      await relay.waitForLog('streaming');
      const port = await relay.httpPort;
      // Down before the relay has needed an id: the in-memory registry comes back empty.
      await all.registry.stop();
      const outageStart = Date.now();
      const { rows } = await s.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn');
      const beforeWrites = parseLsn(rows[0]?.lsn ?? '0/0');
      await writeTransactions(s.pool, s.names, transactions);

      await waitFor(async () => (await readyz(port)).code === 503, 30_000, '/readyz 503');
      assert.equal((await readyz(port)).status, 'degraded');
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'alive');
      await new Promise((r) => setTimeout(r, Math.max(0, 8_000 - (Date.now() - outageStart))));
      assert.equal(await published(relay), 0, 'no value left without its id');
      const confirmed = parseLsn(await confirmedFlush(s.pool, s.names.slot));
      assert.ok(confirmed <= beforeWrites, 'the slot was not told to forget the waiting events');

      await all.registry.start();
      await waitFor(async () => (await readyz(port)).code === 200, 60_000, '/readyz to recover');
      const records = await consumeAll({
        brokers: s.brokers,
        topics: [...new Set(events.map((e) => s.names.topic(e.aggregateType)))],
        atLeast: events.length,
      });
      const registry = createRegistryClient({ url: all.registryUrl });
      const types = new Map<number, avro.Type>();
      const delivered: Delivered[] = [];
      for (const record of records) {
        assert.equal(record.value[0], 0, 'Confluent framing');
        const id = record.value.readUInt32BE(1);
        let type = types.get(id);
        if (!type) {
          type = avro.Type.forSchema(JSON.parse(await registry.schemaById(id)) as avro.Schema);
          types.set(id, type);
        }
        const envelope = type.fromBuffer(record.value.subarray(CONFLUENT_HEADER_LENGTH)) as {
          event_id: string;
          aggregate_id: string;
          payload: string;
        };
        const { seq } = JSON.parse(envelope.payload) as { seq: number };
        delivered.push({ id: envelope.event_id, aggregateId: envelope.aggregate_id, seq });
      }
      const count = countDelivery(events, delivered);
      t.diagnostic(`registry outage: ${JSON.stringify(count)}`);
      assert.equal(count.lost, 0, `lost: ${count.lostIds.join(', ')}`);
      assert.equal(count.reordered, 0);
    } finally {
      await all.registry.start();
      await stopRelay(relay);
      await s.cleanup();
    }
  },
);
