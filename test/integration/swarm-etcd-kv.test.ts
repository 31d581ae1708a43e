// store/cluster/etcd-kv.ts against a real etcd (one member of Debian's etcd-server 3.4): the same
// semantics the in-memory fake has, plus what only a real store shows (a lease that is released
// expires by itself; an unreachable store is a typed error, not a hang).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ClusterStoreUnavailable } from '../../lib/errors';
import { campaign } from '../../store/cluster/election';
import { EtcdKv } from '../../store/cluster/etcd-kv';
import type { KvEvent } from '../../store/cluster/kv';
import { pollUntil } from './harness';
import { EtcdCluster } from './swarm-kit';

let etcd: EtcdCluster;
let kv: EtcdKv;

before(async () => {
  etcd = await EtcdCluster.start(1);
  kv = new EtcdKv({ endpoints: etcd.endpoints.split(','), callTimeoutMs: 2000 });
});
after(async () => {
  await kv?.close();
  await etcd?.destroy();
});

test('create-if-absent, compare-and-swap, list with its revision', async () => {
  const absent = [{ key: '/t/a', target: 'create' as const, op: '==' as const, revision: 0 }];
  assert.equal((await kv.txn(absent, [{ op: 'put', key: '/t/a', value: '1' }])).succeeded, true);
  const lost = await kv.txn(absent, [{ op: 'put', key: '/t/a', value: '2' }], [{ op: 'put', key: '/t/else', value: 'x' }]);
  assert.equal(lost.succeeded, false);
  const a = await kv.get('/t/a');
  assert.equal(a?.value, '1');
  assert.equal((await kv.get('/t/else'))?.value, 'x');
  const cas = await kv.txn(
    [{ key: '/t/a', target: 'mod', op: '==', revision: a?.modRevision ?? 0 }],
    [{ op: 'put', key: '/t/a', value: '3' }],
  );
  assert.equal(cas.succeeded, true);
  const stale = await kv.txn(
    [{ key: '/t/a', target: 'mod', op: '==', revision: a?.modRevision ?? 0 }],
    [{ op: 'put', key: '/t/a', value: '4' }],
  );
  assert.equal(stale.succeeded, false);
  const l = await kv.list('/t/');
  assert.deepEqual(
    l.entries.map((e) => [e.key, e.value]),
    [
      ['/t/a', '3'],
      ['/t/else', 'x'],
    ],
  );
  assert.equal(l.revision, cas.revision);
  assert.equal(await kv.get('/t/none'), null);
});

test('a watch from a past revision replays what happened since', async () => {
  const r = await kv.txn([], [{ op: 'put', key: '/w/1', value: 'a' }]);
  await kv.txn([], [{ op: 'put', key: '/w/2', value: 'b' }]);
  const seen: KvEvent[] = [];
  const w = await kv.watch('/w/', r.revision, { onEvents: (ev) => seen.push(...ev), onError: (err) => assert.fail(err) });
  await kv.txn([], [{ op: 'deletePrefix', prefix: '/w/' }]);
  assert.ok(await pollUntil(5000, 50, () => seen.length >= 4));
  assert.deepEqual(
    seen.map((e) => `${e.type} ${e.key}`),
    ['put /w/1', 'put /w/2', 'delete /w/1', 'delete /w/2'],
  );
  await w.cancel();
});

test('lease-bound keys: revoke removes them; a released lease expires after its TTL', async () => {
  const l1 = await kv.grantLease(2);
  await kv.txn([], [{ op: 'put', key: '/l/1', value: 'x', lease: l1.id }]);
  assert.equal((await kv.get('/l/1'))?.lease, l1.id);
  await l1.revoke();
  assert.equal(await kv.get('/l/1'), null);
  const l2 = await kv.grantLease(2);
  await kv.txn([], [{ op: 'put', key: '/l/2', value: 'x', lease: l2.id }]);
  l2.release();
  assert.ok(await pollUntil(15_000, 200, async () => (await kv.get('/l/2')) === null), 'expired');
});

test('election on a real store', async () => {
  const l1 = await kv.grantLease(5);
  const l2 = await kv.grantLease(5);
  const c1 = campaign(kv, '/e/leader', 'n1', l1);
  await c1.elected;
  const c2 = campaign(kv, '/e/leader', 'n2', l2, { retryMs: 100 });
  await c1.resign();
  await c2.elected;
  assert.equal((await kv.get('/e/leader'))?.value, 'n2');
  await c2.resign();
  await l1.revoke();
  await l2.revoke();
});

test('an unreachable store is ClusterStoreUnavailable within the call deadline', async () => {
  await etcd.kill(0);
  try {
    await assert.rejects(kv.get('/t/a'), ClusterStoreUnavailable);
  } finally {
    etcd.restart(0);
  }
  assert.ok(await pollUntil(20_000, 200, async () => (await kv.get('/t/a').catch(() => null))?.value === '3'), 'back after restart');
});
