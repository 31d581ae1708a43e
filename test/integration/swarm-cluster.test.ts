// Swarm mode's cluster half on etcd, through the real docker CLI: three berthd nodes on a
// three-member etcd cluster. init, join tokens, joins (manager and worker), node ls with the
// leader, node update/inspect, docker info's Swarm section, refusals with dockerd's texts, a
// worker leaving and removed, an etcd member killed and restarted while the nodes keep working,
// a killed node shown Down after its lease TTL, and the leader killed: another manager leads.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pollUntil, startBerth, type Berth } from './harness';
import { destroySwarm, EtcdCluster, fails, ok, startSwarmNode } from './swarm-kit';

const TTL = 3;

interface NodeRow {
  id: string;
  self: boolean;
  status: string;
  availability: string;
  manager: string;
}

async function nodeLs(b: Berth): Promise<NodeRow[]> {
  const r = await b.docker(['node', 'ls', '--format', '{{.ID}}|{{.Self}}|{{.Status}}|{{.Availability}}|{{.ManagerStatus}}']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [id, self, status, availability, manager] = l.split('|');
      return { id, self: self === 'true', status, availability, manager };
    });
}

describe('swarm cluster on etcd', () => {
  let etcd: EtcdCluster | undefined;
  const nodes: Array<Berth | undefined> = [];
  let n1: Berth;
  let n2: Berth;
  let n3: Berth;

  before(async () => {
    etcd = await EtcdCluster.start(3);
    n1 = await startSwarmNode(etcd, { ttl: TTL });
    nodes.push(n1);
    n2 = await startSwarmNode(etcd, { ttl: TTL });
    nodes.push(n2);
    n3 = await startSwarmNode(etcd, { ttl: TTL });
    nodes.push(n3);
  });
  after(async () => {
    await destroySwarm(nodes, etcd);
  });

  let id1 = '';
  let id2 = '';
  let id3 = '';
  let workerToken = '';
  let managerToken = '';

  test('init, join tokens, joins of a manager and a worker', async () => {
    // Not in a swarm yet: as today.
    await fails(n1, ['node', 'ls'], 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join"');
    const init = await ok(n1, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const m = /Swarm initialized: current node \((\w+)\) is now a manager\./.exec(init);
    assert.ok(m, init);
    id1 = m[1];
    assert.match(init, /docker swarm join --token SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25} 127\.0\.0\.1:2377/);
    await fails(n1, ['swarm', 'init', '--advertise-addr', '127.0.0.1'], 'This node is already part of a swarm.');

    workerToken = await ok(n1, ['swarm', 'join-token', 'worker', '-q']);
    managerToken = await ok(n1, ['swarm', 'join-token', 'manager', '-q']);
    assert.match(workerToken, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    assert.notEqual(workerToken, managerToken);
    assert.equal(workerToken.slice(0, 60), managerToken.slice(0, 60), 'one digest part per cluster');

    // A token whose secret is wrong, and one that is not a token.
    const forged = workerToken.slice(0, -25) + 'a'.repeat(25);
    await fails(n3, ['swarm', 'join', '--token', forged, '127.0.0.1:2377'], 'A valid join token is necessary to join this cluster');
    await fails(n3, ['swarm', 'join', '--token', 'SWMTKN-1-nonsense', '127.0.0.1:2377'], 'invalid join token');

    // Rotation through the CLI: the old worker token stops working.
    const rotated = await ok(n1, ['swarm', 'join-token', '--rotate', '-q', 'worker']);
    assert.notEqual(rotated, workerToken);
    assert.equal(await ok(n1, ['swarm', 'join-token', 'manager', '-q']), managerToken);
    await fails(n3, ['swarm', 'join', '--token', workerToken, '127.0.0.1:2377'], 'A valid join token is necessary to join this cluster');
    workerToken = rotated;

    const j2 = await ok(n2, ['swarm', 'join', '--token', managerToken, '--advertise-addr', '127.0.0.2', '127.0.0.1:2377']);
    assert.match(j2, /This node joined a swarm as a manager\./);
    const j3 = await ok(n3, ['swarm', 'join', '--token', workerToken, '--advertise-addr', '127.0.0.3', '127.0.0.1:2377']);
    assert.match(j3, /This node joined a swarm as a worker\./);
    id2 = JSON.parse(await ok(n2, ['info', '--format', '{{json .Swarm.NodeID}}'])) as string;
    id3 = JSON.parse(await ok(n3, ['info', '--format', '{{json .Swarm.NodeID}}'])) as string;
  });

  test('node ls: three nodes, the leader marked, from either manager', async () => {
    const rows = await nodeLs(n1);
    assert.equal(rows.length, 3);
    const by = new Map(rows.map((r) => [r.id, r]));
    assert.deepEqual(by.get(id1), { id: id1, self: true, status: 'Ready', availability: 'Active', manager: 'Leader' });
    assert.deepEqual(by.get(id2), { id: id2, self: false, status: 'Ready', availability: 'Active', manager: 'Reachable' });
    assert.deepEqual(by.get(id3), { id: id3, self: false, status: 'Ready', availability: 'Active', manager: '' });
    const fromN2 = await nodeLs(n2);
    assert.equal(fromN2.find((r) => r.self)?.id, id2);
    // Filters.
    assert.equal(await ok(n1, ['node', 'ls', '-q', '--filter', 'role=worker']), id3);
    await fails(n1, ['node', 'ls', '--filter', 'bogus=1'], "invalid filter 'bogus'");
    // A worker cannot see the cluster.
    await fails(n3, ['node', 'ls'], "Worker nodes can't be used to view or modify cluster state");
  });

  test('node update and inspect', async () => {
    await ok(n1, ['node', 'update', '--availability', 'drain', '--label-add', 'zone=a', id3]);
    const node = JSON.parse(await ok(n1, ['node', 'inspect', id3])) as Array<{
      ID: string;
      Spec: { Availability: string; Labels: Record<string, string>; Role: string };
      Status: { State: string; Addr: string };
      Description: { Engine: { EngineVersion: string } };
    }>;
    assert.equal(node[0].ID, id3);
    assert.equal(node[0].Spec.Availability, 'drain');
    assert.deepEqual(node[0].Spec.Labels, { zone: 'a' });
    assert.equal(node[0].Spec.Role, 'worker');
    assert.deepEqual(node[0].Status, { State: 'ready', Addr: '127.0.0.3' });
    assert.ok(node[0].Description.Engine.EngineVersion);
    assert.equal(await ok(n2, ['node', 'ls', '-q', '--filter', 'node.label=zone=a']), id3);
    // Demote and promote, made on n1, reach n2 (its ping and its right to see the cluster).
    await ok(n1, ['node', 'demote', id2]);
    await fails(n2, ['node', 'ls'], "Worker nodes can't be used to view or modify cluster state");
    await fails(n1, ['node', 'demote', id1], 'attempting to demote the last manager of the swarm');
    await ok(n1, ['node', 'promote', id2]);
    assert.equal((await nodeLs(n2)).length, 3);
    await fails(n1, ['node', 'inspect', 'nosuchnode'], 'node nosuchnode not found');
  });

  test('docker info Swarm section', async () => {
    const s = JSON.parse(await ok(n1, ['info', '--format', '{{json .Swarm}}'])) as {
      NodeID: string;
      NodeAddr: string;
      LocalNodeState: string;
      ControlAvailable: boolean;
      Nodes: number;
      Managers: number;
      Cluster: { ID: string; Spec: { Name: string } };
      RemoteManagers: Array<{ NodeID: string; Addr: string }>;
    };
    assert.equal(s.LocalNodeState, 'active');
    assert.equal(s.NodeAddr, '127.0.0.1');
    assert.equal(s.ControlAvailable, true);
    assert.equal(s.Nodes, 3);
    assert.equal(s.Managers >= 1, true);
    assert.equal(s.Cluster.Spec.Name, 'default');
    assert.ok(s.RemoteManagers.some((r) => r.NodeID === id1 && r.Addr === '127.0.0.1:2377'));
    const w = JSON.parse(await ok(n3, ['info', '--format', '{{json .Swarm}}'])) as { ControlAvailable: boolean; LocalNodeState: string };
    assert.equal(w.LocalNodeState, 'active');
    assert.equal(w.ControlAvailable, false);
    const text = await ok(n1, ['info']);
    assert.match(text, /Swarm: active/);
    assert.match(text, /Is Manager: true/);
    // The ping (answered before fastify's routing) announces the node's part, as dockerd's does.
    for (const method of ['GET', 'HEAD']) {
      assert.equal((await n1.request(method, '/_ping')).headers.swarm, 'active/manager');
      assert.equal((await n3.request(method, '/v1.53/_ping')).headers.swarm, 'active/worker');
    }
  });

  test('refusals: unlock, removing a live node, out-of-sequence update', async () => {
    await fails(n1, ['swarm', 'unlock-key'], "autolock is not supported by Berth's swarm mode");
    assert.equal(await ok(n1, ['service', 'ls', '-q']), '');
    await fails(n1, ['node', 'rm', id3], `node ${id3} is not down and can't be removed`);
    const stale = await n1.request('POST', `/nodes/${id3}/update?version=1`, {
      body: JSON.stringify({ Role: 'worker', Availability: 'active' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(stale.status, 500);
    assert.match(stale.body, /update out of sequence/);
  });

  test('an etcd member killed and restarted: the nodes keep working', async () => {
    const cluster = etcd as EtcdCluster;
    await cluster.kill(0);
    assert.equal((await nodeLs(n1)).length, 3);
    await ok(n2, ['node', 'update', '--label-add', 'while=one-member-down', id3]);
    cluster.restart(0);
    assert.ok(await pollUntil(30_000, 300, async () => (await cluster.ctl(['endpoint', 'health'])).code === 0));
    assert.equal((await nodeLs(n2)).length, 3);
  });

  test('berthd restarted while in a swarm resumes its membership', async () => {
    const cluster = etcd as EtcdCluster;
    await n2.stop();
    // A clean stop releases the lease without revoking it: down once the TTL has run out.
    assert.ok(await pollUntil(TTL * 1000 * 5, 250, async () => (await nodeLs(n1)).find((r) => r.id === id2)?.status === 'Down'));
    const i = nodes.indexOf(n2);
    n2 = await startBerth({ dir: n2.dir, args: ['--cluster-store', `etcd://${cluster.endpoints}`, '--cluster-node-ttl', String(TTL)] });
    nodes[i] = n2;
    assert.equal(JSON.parse(await ok(n2, ['info', '--format', '{{json .Swarm.NodeID}}'])), id2);
    assert.ok(
      await pollUntil(TTL * 1000 * 5, 250, async () => (await nodeLs(n2)).find((r) => r.id === id2)?.status === 'Ready'),
      'the restarted manager is Ready again',
    );
  });

  test('a worker leaves, is shown down and removed; joins again', async () => {
    assert.equal(await ok(n3, ['swarm', 'leave']), 'Node left the swarm.');
    assert.ok(await pollUntil(10_000, 200, async () => (await nodeLs(n1)).find((r) => r.id === id3)?.status === 'Down'));
    await ok(n1, ['node', 'rm', id3]);
    assert.equal((await nodeLs(n1)).length, 2);
    await fails(n3, ['swarm', 'leave'], 'This node is not part of a swarm');
    await ok(n3, ['swarm', 'join', '--token', workerToken, '--advertise-addr', '127.0.0.3', '127.0.0.1:2377']);
    id3 = JSON.parse(await ok(n3, ['info', '--format', '{{json .Swarm.NodeID}}'])) as string;
    assert.equal((await nodeLs(n1)).length, 3);
  });

  test('a killed node is Down after its lease TTL; the leader killed, another manager leads', async () => {
    process.kill(n3.pid, 'SIGKILL');
    assert.ok(
      await pollUntil(TTL * 1000 * 5, 250, async () => (await nodeLs(n1)).find((r) => r.id === id3)?.status === 'Down'),
      'killed worker shown Down',
    );
    process.kill(n1.pid, 'SIGKILL');
    assert.ok(
      await pollUntil(TTL * 1000 * 5, 250, async () => {
        const rows = await nodeLs(n2);
        return rows.find((r) => r.id === id2)?.manager === 'Leader' && rows.find((r) => r.id === id1)?.manager === 'Unreachable';
      }),
      'the other manager leads',
    );
  });
});
