// lib/wait.ts: settlesWithin under mocked timers.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { settlesWithin } from '../../lib/wait';

test('settlesWithin: true when the promise settles in time (a rejection counts), false when the time runs out', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());

  let resolveLate!: () => void;
  const late = settlesWithin(new Promise<void>((r) => (resolveLate = r)), 1000);
  mock.timers.tick(999);
  let rejectSoon!: (err: Error) => void;
  const soon = settlesWithin(new Promise<void>((_r, reject) => (rejectSoon = reject)), 1000);
  rejectSoon(new Error('gone'));
  assert.equal(await soon, true);
  mock.timers.tick(1);
  assert.equal(await late, false);
  resolveLate(); // too late: the answer stays false

  // Settling first clears the timer.
  const cleared = t.mock.method(globalThis, 'clearTimeout');
  const pending = settlesWithin(Promise.resolve(), 50);
  assert.equal(cleared.mock.callCount(), 0);
  assert.equal(await pending, true);
  assert.ok(cleared.mock.callCount() >= 1);
});

test('settlesWithin with an infinite wait waits for the promise, not a clamped 1 ms timer', async (t) => {
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  let resolve!: () => void;
  const waiting = settlesWithin(new Promise<void>((r) => (resolve = r)), Infinity);
  mock.timers.tick(60_000);
  resolve();
  assert.equal(await waiting, true);
});
