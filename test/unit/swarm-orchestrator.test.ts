import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Cluster, node, service, T0 } from './swarm-orchestrator-kit';

test('replicated: scale up fills slots 1..N, spread over nodes, all running; a stable cluster gives no changes', () => {
  const c = new Cluster([node('n1'), node('n2'), node('n3')], [service('s1', { Mode: { Replicated: { Replicas: 6 } } })]);
  const first = c.step();
  assert.equal(first.filter((x) => x.kind === 'createTask').length, 6);
  c.settle();
  assert.deepEqual(c.slots('s1'), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(c.perNode('s1'), { n1: 2, n2: 2, n3: 2 });
  for (const t of c.running('s1')) {
    assert.equal(t.Status?.State, 'running');
    assert.equal(t.ServiceID, 's1');
    assert.match(t.ID ?? '', /^task\d{21}$/);
    assert.deepEqual(t.Spec, c.services.get('s1')?.Spec?.TaskTemplate);
  }
  assert.deepEqual(c.step(), []);
  assert.equal(c.last?.wakeAt, undefined);
});

test('replicated: a new task is pending then assigned in the same write, with swarmkit messages', () => {
  const c = new Cluster([node('n1')], [service('s1')]);
  const [create] = c.step();
  assert.equal(create?.kind, 'createTask');
  if (create?.kind !== 'createTask') return;
  assert.equal(create.task.NodeID, 'n1');
  assert.equal(create.task.Slot, 1);
  assert.equal(create.task.DesiredState, 'running');
  assert.deepEqual(create.task.Status, {
    Timestamp: new Date(T0).toISOString(),
    State: 'assigned',
    Message: 'scheduler assigned task to node',
  });
  assert.equal(create.task.CreatedAt, new Date(T0).toISOString());
});

test('replicated: scale down removes the extra slots, from the most loaded node first, then highest slot', () => {
  const s = service('s1', { Mode: { Replicated: { Replicas: 4 } } });
  const c = new Cluster([node('n1'), node('n2')], [s]);
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 2, n2: 2 });
  s.Spec = { ...s.Spec, Mode: { Replicated: { Replicas: 2 } } };
  const changes = c.step();
  const removed = changes.filter((x) => x.kind === 'setDesiredState' && x.desiredState === 'remove');
  assert.equal(removed.length, 2);
  c.agents();
  c.settle();
  assert.deepEqual(c.slots('s1'), [1, 2]);
  assert.deepEqual(c.perNode('s1'), { n1: 1, n2: 1 });
  // the reaper deleted the removed tasks once they stopped
  assert.equal(c.of('s1').length, 2);
});

test('restart policy any: a failed task is replaced in its slot after the delay (a ready task, promoted at wakeAt)', () => {
  const s = service('s1');
  s.Spec!.TaskTemplate!.RestartPolicy = { Condition: 'any', Delay: 10e9 };
  const c = new Cluster([node('n1')], [s]);
  c.settle();
  const [old] = c.running('s1');
  c.setState(old!, 'failed');
  c.step();
  assert.equal(c.task(old!.ID!).DesiredState, 'shutdown');
  const repl = c.of('s1').find((t) => t.ID !== old!.ID);
  assert.equal(repl?.Slot, 1);
  assert.equal(repl?.DesiredState, 'ready');
  assert.equal(c.last?.wakeAt, T0 + 10_000);
  assert.deepEqual(c.step(), []);
  c.advance();
  const promote = c.step();
  assert.deepEqual(promote, [{ kind: 'setDesiredState', taskId: repl!.ID, desiredState: 'running' }]);
  c.settle();
  assert.equal(c.task(repl!.ID!).Status?.State, 'running');
});

test('restart policy on-failure: a complete task is not restarted, a failed one is; none restarts nothing', () => {
  for (const [cond, end, restarted] of [
    ['on-failure', 'complete', false],
    ['on-failure', 'failed', true],
    ['none', 'failed', false],
    ['any', 'complete', true],
  ] as const) {
    const s = service('s1');
    s.Spec!.TaskTemplate!.RestartPolicy = { Condition: cond, Delay: 0 };
    const c = new Cluster([node('n1')], [s]);
    c.settle();
    const [old] = c.running('s1');
    c.setState(old!, end);
    c.settle();
    assert.equal(c.of('s1').length, restarted ? 2 : 1, `${cond} ${end}`);
    assert.equal(c.running('s1').length, restarted ? 1 : 0, `${cond} ${end}`);
  }
});

test('restart policy MaxAttempts within Window: stops after N restarts inside the window', () => {
  const s = service('s1');
  s.Spec!.TaskTemplate!.RestartPolicy = { Condition: 'any', Delay: 0, MaxAttempts: 2, Window: 60e9 };
  const c = new Cluster([node('n1')], [s]);
  c.settle();
  for (let i = 0; i < 3; i++) {
    c.advance(1000);
    const [cur] = c.running('s1');
    assert.ok(cur, `attempt ${i}`);
    c.setState(cur, 'failed');
    c.settle();
  }
  assert.equal(c.running('s1').length, 0);
  assert.equal(c.of('s1').length, 3);
  assert.deepEqual(c.step(), []);
});

test('restart policy MaxAttempts: restarts older than the Window do not count', () => {
  const s = service('s1');
  s.Spec!.TaskTemplate!.RestartPolicy = { Condition: 'any', Delay: 0, MaxAttempts: 2, Window: 5e9 };
  const c = new Cluster([node('n1')], [s]);
  c.settle();
  for (let i = 0; i < 5; i++) {
    c.advance(10_000);
    c.setState(c.running('s1')[0]!, 'failed');
    c.settle();
  }
  assert.equal(c.running('s1').length, 1);
  // MaxAttempts + 1 tasks are kept, for the restart history
  assert.equal(c.of('s1').length, 3);
});

test('node down: its replicated tasks are shut down and replaced on the other nodes', () => {
  const c = new Cluster([node('n1'), node('n2')], [service('s1', { Mode: { Replicated: { Replicas: 4 } } })]);
  c.settle();
  c.nodes.get('n2')!.Status!.State = 'down';
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 4 });
  assert.deepEqual(c.slots('s1'), [1, 2, 3, 4]);
  for (const t of c.of('s1').filter((t) => t.NodeID === 'n2')) assert.equal(t.DesiredState, 'shutdown');
});

test('drain empties a node; pause keeps its tasks and takes no new ones', () => {
  const c = new Cluster([node('n1'), node('n2')], [service('s1', { Mode: { Replicated: { Replicas: 2 } } })]);
  c.settle();
  c.nodes.get('n1')!.Spec!.Availability = 'pause';
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 1, n2: 1 });
  const s = c.services.get('s1')!;
  s.Spec!.Mode = { Replicated: { Replicas: 4 } };
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 1, n2: 3 });
  c.nodes.get('n2')!.Spec!.Availability = 'drain';
  c.settle();
  // n1 is paused and n2 drained: the replacements wait, pending, with swarmkit's explanation
  assert.deepEqual(c.perNode('s1'), { n1: 1, '': 3 });
  const pending = c.running('s1').filter((t) => t.NodeID === undefined);
  assert.equal(pending[0]?.Status?.Err, 'no suitable node (2 nodes not available for new tasks)');
  c.nodes.get('n1')!.Spec!.Availability = 'active';
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 4 });
});

test('global: one task per eligible node; a joining node gets one; a drained node loses its task', () => {
  const c = new Cluster([node('n1'), node('n2')], [service('g', { Mode: { Global: {} } })]);
  c.settle();
  assert.deepEqual(c.perNode('g'), { n1: 1, n2: 1 });
  const [t1] = c.running('g');
  assert.equal(t1?.Slot, undefined);
  assert.equal(t1?.Status?.Message, 'running');
  c.nodes.set('n3', node('n3'));
  const changes = c.step();
  const create = changes.find((x) => x.kind === 'createTask');
  assert.equal(create?.kind === 'createTask' && create.task.Status?.Message, 'scheduler confirmed task can run on preassigned node');
  c.settle();
  assert.deepEqual(c.perNode('g'), { n1: 1, n2: 1, n3: 1 });
  c.nodes.get('n2')!.Spec!.Availability = 'drain';
  c.settle();
  assert.deepEqual(c.perNode('g'), { n1: 1, n3: 1 });
  c.nodes.get('n3')!.Status!.State = 'down';
  c.settle();
  assert.deepEqual(c.perNode('g'), { n1: 1 });
});

test('constraints: node.labels, node.role and engine.labels pick the nodes; no match says why', () => {
  const s = service('s1', { Mode: { Replicated: { Replicas: 3 } } });
  s.Spec!.TaskTemplate!.Placement = { Constraints: ['node.labels.zone==a', 'node.role!=manager'] };
  const c = new Cluster(
    [node('n1', { labels: { zone: 'a' } }), node('n2', { labels: { zone: 'b' } }), node('n3', { labels: { zone: 'a' }, role: 'manager' })],
    [s],
  );
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 3 });
  const s2 = service('s2');
  s2.Spec!.TaskTemplate!.Placement = { Constraints: ['engine.labels.gpu==yes'] };
  c.services.set('s2', s2);
  c.settle();
  const [p] = c.running('s2');
  assert.equal(p?.Status?.State, 'pending');
  assert.equal(p?.Status?.Err, 'no suitable node (scheduling constraints not satisfied on 3 nodes)');
});

test('spread preference: tasks are spread over the label values before the node counts', () => {
  const s = service('s1', { Mode: { Replicated: { Replicas: 4 } } });
  s.Spec!.TaskTemplate!.Placement = { Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.dc' } }] };
  const c = new Cluster(
    [
      node('a1', { labels: { dc: 'east' } }),
      node('a2', { labels: { dc: 'east' } }),
      node('a3', { labels: { dc: 'east' } }),
      node('b1', { labels: { dc: 'west' } }),
    ],
    [s],
  );
  c.settle();
  assert.equal(c.perNode('s1').b1, 2);
});

test('reservations: tasks go where CPU and memory are left; when full they wait with "insufficient resources"', () => {
  const s = service('s1', { Mode: { Replicated: { Replicas: 3 } } });
  s.Spec!.TaskTemplate!.Resources = { Reservations: { NanoCPUs: 1e9, MemoryBytes: 2 ** 30 } };
  const c = new Cluster([node('n1', { cpu: 2e9 }), node('n2', { cpu: 0.5e9 })], [s]);
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 2, '': 1 });
  const p = c.running('s1').find((t) => t.NodeID === undefined);
  assert.equal(p?.Status?.Err, 'no suitable node (insufficient resources on 2 nodes)');
});

test('task history retention: a slot keeps 5 tasks by default, MaxAttempts + 1 when set', () => {
  const c = new Cluster([node('n1')], [service('s1')]);
  c.settle();
  for (let i = 0; i < 8; i++) {
    c.advance(1000);
    c.setState(c.running('s1')[0]!, 'failed');
    c.settle();
  }
  assert.equal(c.of('s1').length, 5);
  assert.equal(c.running('s1').length, 1);
  c.retention = 2;
  c.settle();
  assert.equal(c.of('s1').length, 2);
});

test('removed service: its tasks get desired remove and are deleted once stopped', () => {
  const c = new Cluster([node('n1')], [service('s1', { Mode: { Replicated: { Replicas: 2 } } })]);
  c.settle();
  c.services.delete('s1');
  const changes = c.step();
  assert.equal(changes.filter((x) => x.kind === 'setDesiredState' && x.desiredState === 'remove').length, 2);
  c.agents();
  c.settle();
  assert.equal(c.tasks.size, 0);
});

test('host-mode published ports: one task per node and port; MaxReplicas per node', () => {
  const s = service('s1', {
    Mode: { Replicated: { Replicas: 3 } },
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' }] },
  });
  const c = new Cluster([node('n1'), node('n2')], [s]);
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 1, n2: 1, '': 1 });
  const p = c.running('s1').find((t) => t.NodeID === undefined);
  assert.equal(p?.Status?.Err, 'no suitable node (host-mode port already in use on 2 nodes)');
  const m = service('m', { Mode: { Replicated: { Replicas: 3 } } });
  m.Spec!.TaskTemplate!.Placement = { MaxReplicas: 1 };
  c.services.set('m', m);
  c.settle();
  assert.deepEqual(c.perNode('m'), { n1: 1, n2: 1, '': 1 });
  assert.equal(c.running('m').find((t) => t.NodeID === undefined)?.Status?.Err, 'no suitable node (max replicas per node limit exceed)');
});

test('ingress published ports are placed as host-mode ports (no routing mesh): one task per node and port', () => {
  const s = service('s1', {
    Mode: { Replicated: { Replicas: 3 } },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
  });
  const c = new Cluster([node('n1'), node('n2')], [s]);
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 1, n2: 1, '': 1 });
  assert.equal(
    c.running('s1').find((t) => t.NodeID === undefined)?.Status?.Err,
    'no suitable node (host-mode port already in use on 2 nodes)',
  );
});
