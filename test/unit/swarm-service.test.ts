// daemon/swarm's cluster service over the in-memory store: two nodes sharing one MemoryKv, each
// with its own data root. Liveness is driven by expiring leases by hand (no clock involved).

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { SwarmService } from '../../daemon/swarm/service';
import { clusterKeys } from '../../daemon/swarm/keys';
import { MemoryKv } from '../../store/cluster/memory-kv';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function node(kv: MemoryKv, host: string): SwarmService {
  const dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-swarm-unit-'));
  dirs.push(dataRoot);
  return new SwarmService({
    kv,
    dataRoot,
    nodeTtlSeconds: 5,
    describe: () => ({ Hostname: host, Platform: { Architecture: 'x86_64', OS: 'linux' } }),
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
}

const tick = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

test('init, join, tokens, leave refusals, update CAS, rotation', async () => {
  const kv = new MemoryKv();
  const a = node(kv, 'a');
  const b = node(kv, 'b');
  await assert.rejects(a.inspect(), /This node is not a swarm manager\. Use "docker swarm init"/);
  await assert.rejects(a.leave(false), /This node is not part of a swarm/);
  const idA = await a.init({ AdvertiseAddr: '127.0.0.1' });
  await assert.rejects(a.init({ AdvertiseAddr: '127.0.0.1' }), /already part of a swarm/);
  const sw = await a.inspect();
  assert.equal(sw.Spec?.Name, 'default');
  assert.equal(sw.Spec?.Orchestration?.TaskHistoryRetentionLimit, 5);
  const worker = sw.JoinTokens?.Worker ?? '';
  assert.match(worker, /^SWMTKN-1-/);

  await assert.rejects(b.join({ JoinToken: worker, RemoteAddrs: [] }), /at least 1 RemoteAddr is required to join/);
  await assert.rejects(b.join({ JoinToken: 'x', RemoteAddrs: ['h:2377'] }), /invalid join token/);
  await assert.rejects(
    b.join({ JoinToken: worker.slice(0, -1) + (worker.endsWith('a') ? 'b' : 'a'), RemoteAddrs: ['h:2377'] }),
    /A valid join token/,
  );

  // Rotation: the old worker token stops working.
  await a.update(sw.Version?.Index ?? 0, sw.Spec ?? {}, {
    rotateWorkerToken: true,
    rotateManagerToken: false,
    rotateManagerUnlockKey: false,
  });
  await assert.rejects(
    a.update(sw.Version?.Index ?? 0, sw.Spec ?? {}, { rotateWorkerToken: false, rotateManagerToken: false, rotateManagerUnlockKey: false }),
    /update out of sequence/,
  );
  await assert.rejects(b.join({ JoinToken: worker, RemoteAddrs: ['h:2377'] }), /A valid join token/);
  const sw2 = await a.inspect();
  assert.notEqual(sw2.JoinTokens?.Worker, worker);
  assert.equal(sw2.JoinTokens?.Manager, sw.JoinTokens?.Manager);
  await b.join({ JoinToken: sw2.JoinTokens?.Worker, RemoteAddrs: ['h:2377'], AdvertiseAddr: '127.0.0.2' });
  await assert.rejects(b.inspect(), /Worker nodes can't be used/);
  assert.equal(b.pingStatus(), 'active/worker');
  assert.equal(a.pingStatus(), 'active/manager');
  await tick();

  const nodes = await a.nodes.list(() => true);
  assert.equal(nodes.length, 2);
  const na = nodes.find((n) => n.ID === idA);
  assert.deepEqual(na?.ManagerStatus, { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1:2377' });
  const nb = nodes.find((n) => n.ID !== idA);
  assert.equal(nb?.Status?.State, 'ready');
  assert.equal(nb?.Status?.Addr, '127.0.0.2');

  await assert.rejects(a.leave(false), /Removing the last manager erases all current state of the swarm/);
  await assert.rejects(a.nodes.remove(nb?.ID ?? '', false), /is not down and can't be removed/);
  await assert.rejects(a.nodes.remove(idA, true), /must be demoted to worker before removal/);
  assert.throws(() => a.unlock(), /autolock is not supported/);

  const info = await a.info();
  assert.equal(info.LocalNodeState, 'active');
  assert.equal(info.ControlAvailable, true);
  assert.equal(info.Nodes, 2);
  assert.equal(info.Managers, 1);

  await b.leave(false);
  assert.equal(b.active, false);
  assert.equal((await a.nodes.inspect(nb?.ID ?? '')).Status?.State, 'down', 'its lease was revoked');
  await a.nodes.remove(nb?.ID ?? '', false);
  await a.leave(true);
  assert.deepEqual((await kv.list('/berth/')).entries, [], 'the last manager took the cluster with it');
  await a.close();
  await b.close();
});

test('a node whose lease expires is down; a second manager takes the lead', async () => {
  const kv = new MemoryKv();
  const a = node(kv, 'a');
  const b = node(kv, 'b');
  const idA = await a.init({ AdvertiseAddr: '127.0.0.1' });
  const mgr = (await a.inspect()).JoinTokens?.Manager ?? '';
  await b.join({ JoinToken: mgr, RemoteAddrs: ['h:2377'], AdvertiseAddr: '127.0.0.2' });
  await tick();
  const keys = clusterKeys((await a.inspect()).ID ?? '');
  assert.equal((await kv.get(keys.leader))?.value, idA);
  const leaseA = (await kv.get(keys.alive(idA)))?.lease ?? '';
  kv.expireLease(leaseA);
  await tick();
  const nodes = await b.nodes.list(() => true);
  const na = nodes.find((n) => n.ID === idA);
  assert.equal(na?.Status?.State, 'down');
  assert.equal(na?.ManagerStatus?.Reachability, 'unreachable');
  const nb = nodes.find((n) => n.ID !== idA);
  assert.equal(nb?.ManagerStatus?.Leader, true);
  await a.close();
  await b.close();
});
