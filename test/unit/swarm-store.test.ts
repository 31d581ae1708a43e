// store/cluster against its in-memory fake (the semantics upper layers rely on: revisions,
// compare-and-swap, prefix watches replayed from a revision, lease-bound keys, the election),
// daemon/swarm/keys.ts and the --cluster-store options (the join tokens: swarm-seal.test.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDaemonConfig, ConfigError } from '../../daemon/config';
import { clusterKeys, idOfKey, tokenIndexKey } from '../../daemon/swarm/keys';
import { ClusterStoreUnavailable } from '../../lib/errors';
import { campaign } from '../../store/cluster/election';
import type { KvEvent } from '../../store/cluster/kv';
import { MemoryKv } from '../../store/cluster/memory-kv';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('memory kv: revisions, create-if-absent, compare-and-swap on mod revision', async () => {
  const kv = new MemoryKv();
  const absent = [{ key: '/a', target: 'create' as const, op: '==' as const, revision: 0 }];
  const first = await kv.txn(absent, [{ op: 'put', key: '/a', value: '1' }]);
  assert.equal(first.succeeded, true);
  const again = await kv.txn(absent, [{ op: 'put', key: '/a', value: '2' }], [{ op: 'put', key: '/lost', value: 'x' }]);
  assert.equal(again.succeeded, false);
  const a = await kv.get('/a');
  assert.equal(a?.value, '1');
  assert.equal(a?.createRevision, first.revision);
  assert.equal((await kv.get('/lost'))?.value, 'x', 'the failure branch ran');
  const cas = await kv.txn([{ key: '/a', target: 'mod', op: '==', revision: a?.modRevision ?? 0 }], [{ op: 'put', key: '/a', value: '3' }]);
  assert.equal(cas.succeeded, true);
  const stale = await kv.txn(
    [{ key: '/a', target: 'mod', op: '==', revision: a?.modRevision ?? 0 }],
    [{ op: 'put', key: '/a', value: '4' }],
  );
  assert.equal(stale.succeeded, false);
  const after = await kv.get('/a');
  assert.equal(after?.value, '3');
  assert.equal(after?.createRevision, a?.createRevision, 'create revision kept by updates');
  const list = await kv.list('/');
  assert.deepEqual(
    list.entries.map((e) => e.key),
    ['/a', '/lost'],
  );
  assert.equal(list.revision, cas.revision);
});

test('memory kv: watch from a revision replays, then follows; deletePrefix', async () => {
  const kv = new MemoryKv();
  await kv.txn([], [{ op: 'put', key: '/p/1', value: 'a' }]);
  const r2 = await kv.txn([], [{ op: 'put', key: '/p/2', value: 'b' }]);
  await kv.txn([], [{ op: 'put', key: '/q/1', value: 'other prefix' }]);
  const seen: KvEvent[] = [];
  const w = await kv.watch('/p/', r2.revision, { onEvents: (ev) => seen.push(...ev), onError: assert.fail });
  await kv.txn([], [{ op: 'deletePrefix', prefix: '/p/' }]);
  await tick();
  assert.deepEqual(
    seen.map((e) => `${e.type} ${e.key}`),
    ['put /p/2', 'delete /p/1', 'delete /p/2'],
  );
  await w.cancel();
  await kv.txn([], [{ op: 'put', key: '/p/3', value: 'c' }]);
  await tick();
  assert.equal(seen.length, 3, 'nothing after cancel');
});

test('memory kv: keys attached to a lease go with it; a lost lease is told; down store throws', async () => {
  const kv = new MemoryKv();
  const lease = await kv.grantLease(5);
  let lost = 0;
  lease.onLost(() => lost++);
  await kv.txn([], [{ op: 'put', key: '/alive/n1', value: 'n1', lease: lease.id }]);
  assert.ok(await kv.get('/alive/n1'));
  kv.expireLease(lease.id);
  assert.equal(await kv.get('/alive/n1'), null);
  assert.equal(lost, 1);
  await assert.rejects(kv.txn([], [{ op: 'put', key: '/x', value: '', lease: lease.id }]), ClusterStoreUnavailable);
  kv.down = true;
  await assert.rejects(kv.get('/x'), ClusterStoreUnavailable);
});

test('election: one leader; the next one takes over when its lease ends; resign hands over', async () => {
  const kv = new MemoryKv();
  const l1 = await kv.grantLease(5);
  const l2 = await kv.grantLease(5);
  const c1 = campaign(kv, '/leader', 'n1', l1);
  const t1 = await c1.elected;
  const c2 = campaign(kv, '/leader', 'n2', l2);
  let second = 0;
  void c2.elected.then((t) => (second = t));
  await tick();
  await tick();
  assert.equal(second, 0, 'n2 waits');
  assert.equal((await kv.get('/leader'))?.value, 'n1');
  kv.expireLease(l1.id);
  const t2 = await c2.elected;
  assert.ok(t2 > t1, 'a new term');
  assert.equal((await kv.get('/leader'))?.value, 'n2');
  await c2.resign();
  assert.equal(await kv.get('/leader'), null);
  await c1.resign();
});

test('keys: one prefix per cluster, IDs never with a slash', () => {
  const k = clusterKeys('c1');
  assert.equal(k.prefix, '/berth/swarm/c1/');
  assert.equal(k.cluster, '/berth/swarm/c1/cluster');
  assert.equal(k.leader, '/berth/swarm/c1/leader');
  assert.equal(k.node('n1'), '/berth/swarm/c1/nodes/n1');
  assert.equal(k.alive('n1'), '/berth/swarm/c1/alive/n1');
  assert.equal(k.task('t1'), '/berth/swarm/c1/tasks/t1');
  assert.equal(k.taskStatus('t1'), '/berth/swarm/c1/task-status/t1');
  assert.equal(k.service('s1'), '/berth/swarm/c1/services/s1');
  assert.equal(k.secret('x'), '/berth/swarm/c1/secrets/x');
  assert.equal(k.config('x'), '/berth/swarm/c1/configs/x');
  assert.equal(k.network('x'), '/berth/swarm/c1/networks/x');
  assert.equal(k.name('services', 'web/1'), '/berth/swarm/c1/names/services/web%2F1');
  assert.equal(idOfKey(k.node('n1')), 'n1');
  assert.equal(tokenIndexKey('d'), '/berth/swarm-tokens/d');
  assert.throws(() => k.node('a/b'));
  assert.throws(() => clusterKeys(''));
});

test('--cluster-store and friends', () => {
  const opts = { readFile: () => '{}', env: {}, cgroupV2: false };
  const parse = (argv: string[]) => parseDaemonConfig(['--config-file', '/x.json', ...argv], opts).config;
  const none = parse([]);
  assert.deepEqual(none.clusterStore, []);
  assert.equal(none.clusterNodeTtl, 15);
  const c = parse([
    '--cluster-store',
    'etcd://127.0.0.1:2379,[::1]:2379',
    '--cluster-node-ttl',
    '3',
    '--cluster-store-opt',
    'etcd.cacert=/ca.pem',
  ]);
  assert.deepEqual(c.clusterStore, ['127.0.0.1:2379', '[::1]:2379']);
  assert.equal(c.clusterNodeTtl, 3);
  assert.deepEqual(c.clusterStoreOpts, { 'etcd.cacert': '/ca.pem' });
  assert.throws(() => parse(['--cluster-store', 'consul://h:1']), ConfigError);
  assert.throws(() => parse(['--cluster-store', 'etcd://nohost']), ConfigError);
  assert.throws(() => parse(['--cluster-node-ttl', '1']), ConfigError);
  assert.throws(() => parse(['--cluster-store-opt', 'etcd.cert=/c.pem']), /go together/);
  const file = parseDaemonConfig(['--config-file', '/x.json'], {
    ...opts,
    readFile: () => JSON.stringify({ 'cluster-store': 'etcd://h:2379', 'cluster-store-opts': { 'etcd.cacert': '/ca' } }),
  }).config;
  assert.deepEqual(file.clusterStore, ['h:2379']);
  assert.deepEqual(file.clusterStoreOpts, { 'etcd.cacert': '/ca' });
});
