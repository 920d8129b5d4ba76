import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quoteIdent } from '../../src/db/sql.ts';
import { spawnRelay, waitFor } from '../support/relay.ts';
import { published, scenario, stopRelay } from '../support/scenario.ts';
import { peakRssMib } from '../support/slot.ts';

/** The bound the README states for the default window (RELAY_MAX_IN_FLIGHT_EVENTS=20000). */
export const PEAK_RSS_BOUND_MIB = 320;

test('one 200,000-row transaction is relayed with peak RSS under the stated bound', async (t) => {
  const s = await scenario('big_tx');
  const relay = spawnRelay(s.env);
  const rows = 200_000;
  try {
    await relay.waitForLog('streaming');
    const table = `${quoteIdent(s.names.schema)}.${quoteIdent(s.names.table)}`;
    await s.pool.query(
      `INSERT INTO ${table} (id, aggregate_type, aggregate_id, event_type, payload)
       SELECT gen_random_uuid(), 'order', 'o-' || (g % 1000), 'order.changed',
              jsonb_build_object('seq', g, 'note', repeat('x', 200))
         FROM generate_series(1, ${rows}) g`,
    );
    await waitFor(async () => (await published(relay)) >= rows, 240_000, 'all rows to reach Kafka');
    const peak = await peakRssMib(relay.process.pid as number);
    t.diagnostic(`200,000-row transaction: peak RSS ${peak.toFixed(0)} MiB`);
    assert.ok(peak < PEAK_RSS_BOUND_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
  } finally {
    await stopRelay(relay);
    await s.cleanup();
  }
});
