// daemon.json's default-ulimits reach the containers (from the file's Name/Soft/Hard through the
// daemon config into the OCI rlimits), and a container's own --ulimit of the same name wins.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { destroyBerth, loadBusybox, startBerth, type Berth } from './harness';

let b: Berth | undefined;

before(async () => {
  b = await startBerth({ daemonJson: JSON.stringify({ 'default-ulimits': { nofile: { Name: 'nofile', Soft: 1000, Hard: 2000 } } }) });
  await loadBusybox(b);
});

after(async () => {
  if (b) await destroyBerth(b);
});

function berth(): Berth {
  assert.ok(b, 'berthd started');
  return b;
}

test('a container without --ulimit gets the daemon default', async () => {
  const r = await berth().docker(['run', '--rm', 'busybox', 'sh', '-c', 'ulimit -S -n; ulimit -H -n']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['1000', '2000']);
});

test("a container's own --ulimit replaces the default of that name", async () => {
  const r = await berth().docker(['run', '--rm', '--ulimit', 'nofile=500:600', 'busybox', 'sh', '-c', 'ulimit -S -n; ulimit -H -n']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['500', '600']);
});
