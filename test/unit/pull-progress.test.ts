// The pull's progress lines: dockerd's bar text and the throttle that keeps a large download
// from flooding the client.
import assert from 'node:assert/strict';
import { afterEach, mock, test } from 'node:test';
import { progressBar, ProgressThrottle } from '../../daemon/progress';
import { Semaphore } from '../../daemon/images/blob-downloads';

test("the bar is dockerd's (captured from dockerd 20.10 pulling from a local registry)", () => {
  assert.equal(progressBar(36412, 1056617), '[=>                                                 ]  36.41kB/1.057MB');
  assert.equal(progressBar(98304, 1056617), '[====>                                              ]   98.3kB/1.057MB');
  assert.equal(progressBar(1056617, 1056617), '[==================================================>]  1.057MB/1.057MB');
  assert.equal(progressBar(0, 0), '');
});

afterEach(() => mock.timers.reset());

test('Downloading is reported every 512 KiB or 100 ms, the last always', () => {
  mock.timers.enable({ apis: ['Date'], now: 0 });
  const seen: number[] = [];
  const t = new ProgressThrottle((current) => seen.push(current));
  const total = 4 * 1024 * 1024;
  // 32 KiB chunks arriving with no time passing: one report per 512 KiB.
  for (let n = 32 * 1024; n <= total; n += 32 * 1024) t.update(n, total);
  assert.equal(seen[0], 32 * 1024);
  assert.equal(seen[seen.length - 1], total);
  assert.equal(seen.length, 9);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i] - seen[i - 1] >= 512 * 1024 || seen[i] === total);
});

test('a slow download still reports every 100 ms', () => {
  mock.timers.enable({ apis: ['Date'], now: 0 });
  const seen: number[] = [];
  const t = new ProgressThrottle((current) => seen.push(current));
  t.update(1000, 10_000_000);
  mock.timers.tick(50);
  t.update(2000, 10_000_000);
  assert.deepEqual(seen, [1000]);
  mock.timers.tick(60);
  t.update(3000, 10_000_000);
  assert.deepEqual(seen, [1000, 3000]);
  // The same count twice is not repeated.
  mock.timers.tick(200);
  t.update(3000, 10_000_000);
  assert.deepEqual(seen, [1000, 3000]);
});

test('at most `limit` downloads run at once; a waiter that leaves gives up its place', async () => {
  const s = new Semaphore(2);
  const a = await s.acquire();
  const b = await s.acquire();
  assert.equal(s.available, false);
  let third = false;
  const c = s.acquire().then((r) => {
    third = true;
    return r;
  });
  const gone = new AbortController();
  const d = s.acquire(gone.signal);
  gone.abort(new Error('client left'));
  await assert.rejects(d, /client left/);
  await Promise.resolve();
  assert.equal(third, false);
  a();
  a(); // idempotent
  const release = await c;
  assert.equal(third, true);
  assert.equal(s.available, false);
  b();
  release();
  assert.equal(s.available, true);
});
