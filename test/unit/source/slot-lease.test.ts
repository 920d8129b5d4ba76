import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlotLease } from '../../../src/source/slot-lease.ts';

function lease(state: { closed: boolean; activePid: number | null; asked: number }) {
  return new SlotLease({
    walsenderPid: 42,
    closed: () => state.closed,
    activePid: () => {
      state.asked++;
      return Promise.resolve(state.activePid);
    },
  });
}

test('contact vouches for the slot without asking Postgres, even once the connection has just ended', async () => {
  const state = { closed: false, activePid: null, asked: 0 };
  const l = lease(state);
  try {
    l.contact();
    assert.equal(await l.owned(), true);
    state.closed = true; // Postgres restarting: the lease still covers what was read
    assert.equal(await l.owned(), true);
    assert.equal(state.asked, 0);
  } finally {
    l.close();
  }
});

test('without a lease, a closed connection owns nothing and an open one asks for active_pid', async () => {
  const state = { closed: false, activePid: 42 as number | null, asked: 0 };
  const l = lease(state);
  try {
    assert.equal(await l.owned(), true, 'our walsender holds the slot');
    assert.equal(state.asked, 1);
    const other = { closed: false, activePid: 7, asked: 0 };
    const l2 = lease(other);
    assert.equal(await l2.owned(), false, 'another process streams the slot');
    l2.close();
    const closed = { closed: true, activePid: 42, asked: 0 };
    const l3 = lease(closed);
    assert.equal(await l3.owned(), false);
    assert.equal(closed.asked, 0);
    l3.close();
  } finally {
    l.close();
  }
});

test('a gap in the clock voids the lease: only Postgres restores it', async () => {
  const state = { closed: false, activePid: 7 as number | null, asked: 0 };
  const l = lease(state);
  try {
    l.contact();
    const until = performance.now() + 1_200;
    while (performance.now() < until); // the event loop does not run: frozen
    l.contact(); // a frame that waited in the socket does not vouch
    assert.equal(await l.owned(), false);
    state.activePid = 42;
    assert.equal(await l.owned(), true);
    await sleep(1);
  } finally {
    l.close();
  }
});
