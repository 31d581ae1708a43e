// Swarm services and tasks through the real docker CLI on three berthd nodes and a three-member
// etcd: create (replicated, with `-p` in the CLI's default ingress mode, vip endpoint mode), ls
// with REPLICAS, ps, inspect (Version.Index, the spec as sent plus defaults), update (rolling:
// PreviousSpec, UpdateStatus), scale, rollback, the version compare-and-swap, rm, a drained node
// emptied and a SIGKILLed node's tasks re-placed after its lease TTL. Placement is asserted from
// the tasks' nodes (`docker node ps`); the nodes' agents (h/swarm-node, merged) run the tasks, so
// REPLICAS reaches 6/6 and the rolling update completes.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadBusybox, pollUntil, type Berth } from './harness';
import { destroySwarm, EtcdCluster, fails, lines, ok, startSwarmNode } from './swarm-kit';

const TTL = 3;
const POLL_MS = 30_000;

interface ApiTask {
  ID: string;
  NodeID?: string;
  DesiredState: string;
  Slot?: number;
  Status: { State: string; Err?: string };
  Spec: { ContainerSpec: { Image: string; Env?: string[] } };
}

interface ApiService {
  ID: string;
  Version: { Index: number };
  Spec: {
    Name: string;
    Mode: { Replicated?: { Replicas: number } };
    TaskTemplate: { ContainerSpec: { Image: string; Args?: string[]; Env?: string[] }; RestartPolicy?: { Condition: string } };
    EndpointSpec?: { Mode: string; Ports?: Array<{ PublishMode: string; PublishedPort: number; TargetPort: number; Protocol: string }> };
    UpdateConfig?: { Parallelism: number; FailureAction: string };
  };
  PreviousSpec?: ApiService['Spec'];
  UpdateStatus?: { State: string; Message?: string };
  Endpoint: { Spec: { Mode?: string }; Ports?: Array<{ PublishMode: string; PublishedPort: number }>; VirtualIPs?: unknown[] };
}

describe('swarm services on etcd', () => {
  let etcd: EtcdCluster | undefined;
  const nodes: Array<Berth | undefined> = [];
  let n1: Berth;
  let n2: Berth;
  let n3: Berth;
  const ids: string[] = [];

  async function tasksOf(service: string): Promise<ApiTask[]> {
    const filters = encodeURIComponent(JSON.stringify({ service: [service] }));
    const r = await n1.request('GET', `/tasks?filters=${filters}`);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as ApiTask[];
  }

  /** Tasks the orchestrator wants (desired running, or ready: waiting for a predecessor or a delay), per node. */
  async function wantedPerNode(service: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const t of await tasksOf(service)) {
      if (t.DesiredState !== 'running' && t.DesiredState !== 'ready') continue;
      const n = t.NodeID ?? '';
      out[n] = (out[n] ?? 0) + 1;
    }
    return out;
  }

  async function inspect(service: string): Promise<ApiService> {
    return (JSON.parse(await ok(n1, ['service', 'inspect', service])) as ApiService[])[0];
  }

  before(async () => {
    etcd = await EtcdCluster.start(3);
    for (let i = 0; i < 3; i++) {
      const n = await startSwarmNode(etcd, { ttl: TTL });
      nodes.push(n);
      await loadBusybox(n);
      await ok(n, ['tag', 'busybox:latest', 'busybox:v2']);
    }
    [n1, n2, n3] = nodes as Berth[];
    await ok(n1, ['swarm', 'init', '--advertise-addr', '127.0.0.1']);
    const manager = await ok(n1, ['swarm', 'join-token', 'manager', '-q']);
    const worker = await ok(n1, ['swarm', 'join-token', 'worker', '-q']);
    await ok(n2, ['swarm', 'join', '--token', manager, '--advertise-addr', '127.0.0.2', '127.0.0.1:2377']);
    await ok(n3, ['swarm', 'join', '--token', worker, '--advertise-addr', '127.0.0.3', '127.0.0.1:2377']);
    for (const n of [n1, n2, n3]) ids.push(JSON.parse(await ok(n, ['info', '--format', '{{json .Swarm.NodeID}}'])) as string);
  });
  after(async () => {
    await destroySwarm(nodes, etcd);
  });

  test('service create: 6 replicas spread over 3 nodes; ls, ps, name conflict', async () => {
    const id = await ok(n1, [
      'service',
      'create',
      '-d',
      '--no-resolve-image',
      '--replicas',
      '6',
      '--name',
      'web',
      'busybox',
      'sleep',
      '3600',
    ]);
    assert.match(id, /^[0-9a-z]{25}$/);
    assert.ok(
      await pollUntil(POLL_MS, 200, async () => {
        const per = await wantedPerNode('web');
        return ids.every((n) => per[n] === 2);
      }),
      `6 tasks, 2 per node: ${JSON.stringify(await wantedPerNode('web'))}`,
    );
    // the nodes' agents run them: REPLICAS 6/6, every task running (status from P/task-status)
    assert.ok(
      await pollUntil(POLL_MS * 2, 250, async () => (await ok(n1, ['service', 'ls', '--format', '{{.Replicas}}'])) === '6/6'),
      await ok(n1, ['service', 'ps', 'web', '--no-trunc']),
    );
    assert.ok((await tasksOf('web')).every((t) => t.Status.State === 'running'));
    // every task is placed; node ps agrees with the tasks' nodes
    for (const n of ids) assert.equal(lines(await ok(n1, ['node', 'ps', '-q', '--filter', 'desired-state=running', n])).length, 2);
    const ls = lines(await ok(n1, ['service', 'ls', '--format', '{{.ID}}|{{.Name}}|{{.Mode}}|{{.Replicas}}|{{.Image}}']));
    assert.equal(ls.length, 1);
    assert.match(ls[0], new RegExp(`^${id.slice(0, 12)}\\|web\\|replicated\\|[0-6]/6\\|busybox`));
    const ps = lines(await ok(n1, ['service', 'ps', 'web', '--format', '{{.Name}}|{{.DesiredState}}']));
    assert.deepEqual(ps.map((l) => l.split('|')[0]).sort(), ['web.1', 'web.2', 'web.3', 'web.4', 'web.5', 'web.6']);
    assert.ok(ps.every((l) => l.endsWith('|Running')));
    // from the other manager too; a worker may not
    assert.equal(await ok(n2, ['service', 'ls', '-q']), id.slice(0, 12));
    await fails(n3, ['service', 'ls'], "Worker nodes can't be used to view or modify cluster state");
    await fails(n1, ['service', 'create', '-d', '--no-resolve-image', '--name', 'web', 'busybox'], 'service web already exists');
    // the task itself, by ID prefix
    const task = (await tasksOf('web'))[0];
    const one = JSON.parse(await ok(n1, ['inspect', '--type', 'task', task.ID.slice(0, 10)])) as ApiTask[];
    assert.equal(one[0].ID, task.ID);
  });

  test('service create --mode global: one task on each node, named after the node', async () => {
    const id = await ok(n1, [
      'service',
      'create',
      '-d',
      '--no-resolve-image',
      '--mode',
      'global',
      '--name',
      'everywhere',
      'busybox',
      'sleep',
      '3600',
    ]);
    assert.ok(
      await pollUntil(POLL_MS * 2, 250, async () => {
        const [mode, replicas] = (
          await ok(n1, ['service', 'ls', '--filter', 'name=everywhere', '--format', '{{.Mode}} {{.Replicas}}'])
        ).split(' ');
        return mode === 'global' && replicas === '3/3';
      }),
      await ok(n1, ['service', 'ps', 'everywhere', '--no-trunc']),
    );
    const per = await wantedPerNode('everywhere');
    assert.deepEqual(
      ids.map((n) => per[n]),
      [1, 1, 1],
    );
    // a global task's name carries its node's ID, not a slot (`<service>.<nodeID>.<taskID>`)
    const names = lines(await ok(n1, ['ps', '--filter', `label=com.docker.swarm.service.id=${id}`, '--format', '{{.Names}}']));
    assert.equal(names.length, 1);
    assert.match(names[0], new RegExp(`^everywhere\\.${ids[0]}\\.[0-9a-z]{25}$`));
    await ok(n1, ['service', 'rm', 'everywhere']);
  });

  test('service create -p 8080:80 (ingress, vip by default): accepted, placed as host ports', async () => {
    await ok(n1, [
      'service',
      'create',
      '-d',
      '--no-resolve-image',
      '--replicas',
      '4',
      '--name',
      'pub',
      '-p',
      '8080:80',
      'busybox',
      'sleep',
      '3600',
    ]);
    const s = await inspect('pub');
    assert.equal(s.Spec.EndpointSpec?.Mode, 'vip');
    assert.deepEqual(s.Spec.EndpointSpec?.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);
    assert.deepEqual(s.Endpoint.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);
    assert.equal(s.Endpoint.VirtualIPs, undefined);
    // one task per node and published port; the fourth waits with swarmkit's explanation
    assert.ok(
      await pollUntil(POLL_MS, 200, async () => {
        const ts = (await tasksOf('pub')).filter((t) => t.DesiredState === 'running');
        return (
          ts.filter((t) => t.NodeID).length === 3 &&
          ts.some((t) => t.Status.Err === 'no suitable node (host-mode port already in use on 3 nodes)')
        );
      }),
    );
    const errs = await ok(n1, ['service', 'ps', 'pub', '--no-trunc', '--format', '{{.Error}}']);
    assert.match(errs, /no suitable node \(host-mode port already in use on 3 nodes\)/);
    await ok(n1, ['service', 'rm', 'pub']);
  });

  test('service inspect: Version.Index, the spec as sent, defaults on request', async () => {
    const s = await inspect('web');
    assert.ok(s.Version.Index > 0);
    assert.equal(s.Spec.Name, 'web');
    assert.deepEqual(s.Spec.Mode, { Replicated: { Replicas: 6 } });
    assert.equal(s.Spec.TaskTemplate.ContainerSpec.Image, 'busybox:latest');
    assert.deepEqual(s.Spec.TaskTemplate.ContainerSpec.Args, ['sleep', '3600']);
    assert.equal(s.Spec.EndpointSpec?.Mode, 'vip');
    const raw = await n1.request('GET', `/services/${s.ID}`);
    const plain = JSON.parse(raw.body) as ApiService;
    assert.equal(plain.Version.Index, s.Version.Index);
    const d = JSON.parse((await n1.request('GET', `/services/web?insertDefaults=true`)).body) as ApiService;
    assert.deepEqual(d.Spec.TaskTemplate.RestartPolicy, { Condition: 'any', Delay: 5e9, MaxAttempts: 0 });
    assert.equal(d.Spec.UpdateConfig?.Parallelism, 1);
    await fails(n1, ['service', 'inspect', 'nosuch'], 'no such service: nosuch');
  });

  test('service update --image --env-add: a rolling update (PreviousSpec, UpdateStatus); a stale version fails', async () => {
    const before = await inspect('web');
    const stale = await n1.request('POST', `/services/web/update?version=${before.Version.Index - 1}`, {
      body: JSON.stringify(before.Spec),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(stale.status, 500);
    assert.match(stale.body, /rpc error: code = Unknown desc = update out of sequence/);
    await ok(n1, [
      'service',
      'update',
      '-d',
      '--no-resolve-image',
      '--image',
      'busybox:v2',
      '--env-add',
      'A=1',
      '--update-parallelism',
      '2',
      'web',
    ]);
    const s = await inspect('web');
    assert.ok(s.Version.Index > before.Version.Index);
    assert.equal(s.Spec.TaskTemplate.ContainerSpec.Image, 'busybox:v2');
    assert.deepEqual(s.Spec.TaskTemplate.ContainerSpec.Env, ['A=1']);
    assert.equal(s.PreviousSpec?.TaskTemplate.ContainerSpec.Image, 'busybox:latest');
    assert.ok(
      await pollUntil(POLL_MS, 200, async () => {
        const st = (await inspect('web')).UpdateStatus?.State;
        const updated = (await tasksOf('web')).filter((t) => t.Spec.ContainerSpec.Image === 'busybox:v2');
        return (st === 'updating' || st === 'completed') && updated.length >= 2;
      }),
      'the orchestrator starts the update: UpdateStatus, new tasks in batches of 2',
    );
    assert.ok(
      await pollUntil(POLL_MS * 3, 500, async () => (await inspect('web')).UpdateStatus?.State === 'completed'),
      `update completed: ${JSON.stringify((await inspect('web')).UpdateStatus)}`,
    );
    const running = (await tasksOf('web')).filter((t) => t.DesiredState === 'running');
    assert.equal(running.length, 6);
    assert.ok(running.every((t) => t.Spec.ContainerSpec.Image === 'busybox:v2' && t.Status.State === 'running'));
    assert.equal((await inspect('web')).UpdateStatus?.Message, 'update completed');
  });

  test('service scale web=3, then rollback to the previous spec', async () => {
    await ok(n1, ['service', 'scale', '-d', 'web=3']);
    assert.equal((await inspect('web')).Spec.Mode.Replicated?.Replicas, 3);
    assert.ok(
      await pollUntil(POLL_MS, 200, async () => {
        const per = await wantedPerNode('web');
        return Object.values(per).reduce((a, b) => a + b, 0) === 3 && per[''] === undefined;
      }),
      `3 wanted tasks: ${JSON.stringify(await wantedPerNode('web'))}`,
    );
    await ok(n1, ['service', 'rollback', '-d', 'web']);
    const s = await inspect('web');
    assert.equal(s.Spec.Mode.Replicated?.Replicas, 6, 'the spec before the scale');
    assert.equal(s.PreviousSpec?.Mode.Replicated?.Replicas, 3);
    assert.match(s.UpdateStatus?.State ?? '', /^rollback_/);
    assert.ok(
      await pollUntil(POLL_MS, 200, async () => Object.values(await wantedPerNode('web')).reduce((a, b) => a + b, 0) === 6),
      'back to 6 tasks',
    );
  });

  test('node update --availability drain: its tasks shut down and are re-placed', async () => {
    const drained = ids[1];
    await ok(n1, ['node', 'update', '--availability', 'drain', drained]);
    assert.ok(
      await pollUntil(POLL_MS, 200, async () => {
        const per = await wantedPerNode('web');
        return per[drained] === undefined && (per[ids[0]] ?? 0) + (per[ids[2]] ?? 0) === 6;
      }),
      `re-placed: ${JSON.stringify(await wantedPerNode('web'))}`,
    );
    const onDrained = (await tasksOf('web')).filter((t) => t.NodeID === drained);
    assert.ok(onDrained.length > 0 && onDrained.every((t) => t.DesiredState === 'shutdown' || t.DesiredState === 'remove'));
    await ok(n1, ['node', 'update', '--availability', 'active', drained]);
  });

  test('a SIGKILLed node: after its lease TTL its tasks are re-placed on the others', async () => {
    const killed = ids[2];
    const before = await wantedPerNode('web');
    assert.ok((before[killed] ?? 0) > 0, JSON.stringify(before));
    process.kill(n3.pid, 'SIGKILL');
    assert.ok(
      await pollUntil(POLL_MS, 250, async () => {
        const per = await wantedPerNode('web');
        return per[killed] === undefined && (per[ids[0]] ?? 0) + (per[ids[1]] ?? 0) === 6;
      }),
      `re-placed: ${JSON.stringify(await wantedPerNode('web'))}`,
    );
    const status = await ok(n1, ['node', 'inspect', killed, '--format', '{{.Status.State}}']);
    assert.equal(status, 'down', 'node ls agrees with the orchestrator');
  });

  test('service rm: gone from ls; its tasks are removed', async () => {
    const id = (await inspect('web')).ID;
    await ok(n1, ['service', 'rm', 'web']);
    assert.equal(await ok(n1, ['service', 'ls', '-q']), '');
    await fails(n1, ['service', 'ps', 'web'], 'no such service: web');
    assert.ok(
      await pollUntil(POLL_MS, 200, async () => {
        const r = await n1.request('GET', '/tasks');
        const all = JSON.parse(r.body) as Array<ApiTask & { ServiceID: string }>;
        return all.filter((t) => t.ServiceID === id).every((t) => t.DesiredState === 'remove');
      }),
    );
    // the name is free again
    await ok(n1, ['service', 'create', '-d', '--no-resolve-image', '--name', 'web', 'busybox', 'sleep', '3600']);
    await ok(n1, ['service', 'rm', 'web']);
  });
});
