import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyServiceUpdate } from '../../daemon/swarm/orchestrator/service-update';
import type { Service, ServiceSpec } from '../../daemon/swarm/orchestrator/types';
import { Cluster, node, service } from './swarm-orchestrator-kit';

const SECOND = 1e9;

/** The API's service update: PreviousSpec is the old spec, UpdateStatus reset (as swarmkit's controlapi). */
function updateSpec(s: Service, change: (spec: ServiceSpec) => void): void {
  const next = structuredClone(s.Spec!);
  change(next);
  s.PreviousSpec = s.Spec!;
  s.Spec = next;
  delete s.UpdateStatus;
}

const image = (c: Cluster, id: string, img: string): number =>
  c.running(id).filter((t) => t.Spec?.ContainerSpec?.Image === img && t.Status?.State === 'running').length;

test('rolling update: batches of Parallelism 2, Delay between batches, stop-first, then completed after Monitor', () => {
  const s = service('s1', {
    Mode: { Replicated: { Replicas: 6 } },
    UpdateConfig: { Parallelism: 2, Delay: 10 * SECOND, Monitor: 5 * SECOND, Order: 'stop-first', FailureAction: 'pause' },
  });
  const c = new Cluster([node('n1'), node('n2'), node('n3')], [s]);
  c.settle();
  const t0 = c.now;
  updateSpec(s, (sp) => (sp.TaskTemplate!.ContainerSpec!.Image = 'busybox:2'));

  const first = c.step();
  const status = first.find((x) => x.kind === 'updateService');
  assert.deepEqual(status, {
    kind: 'updateService',
    serviceId: 's1',
    updateStatus: { State: 'updating', StartedAt: new Date(t0).toISOString(), Message: 'update in progress' },
  });
  // stop-first: two old tasks told to stop, their successors wait in desired state ready
  assert.equal(first.filter((x) => x.kind === 'setDesiredState' && x.desiredState === 'shutdown').length, 2);
  const created = first.filter((x) => x.kind === 'createTask');
  assert.equal(created.length, 2);
  for (const x of created) if (x.kind === 'createTask') assert.equal(x.task.DesiredState, 'ready');
  c.agents();
  c.settle();
  assert.equal(image(c, 's1', 'busybox:2'), 2);
  assert.equal(c.running('s1').length, 6);
  assert.equal(c.last?.wakeAt, t0 + 10_000, 'the next batch waits for Delay');

  const seen: number[] = [];
  for (let i = 0; i < 10 && c.last?.wakeAt !== undefined; i++) {
    c.advance();
    c.settle();
    seen.push(image(c, 's1', 'busybox:2'));
  }
  assert.deepEqual(seen, [4, 6, 6]);
  const us = c.services.get('s1')?.UpdateStatus;
  assert.equal(us?.State, 'completed');
  assert.equal(us?.Message, 'update completed');
  // Delay >= Monitor: swarmkit monitors Delay + 1s after the last batch
  assert.equal(us?.CompletedAt, new Date(t0 + 20_000 + 11_000).toISOString());
  assert.deepEqual(c.slots('s1'), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(c.step(), []);
});

test('rolling update start-first: the new task starts before the old one is shut down', () => {
  const s = service('s1', { UpdateConfig: { Parallelism: 1, Order: 'start-first', Monitor: 1 * SECOND } });
  const c = new Cluster([node('n1')], [s]);
  c.settle();
  const [old] = c.running('s1');
  updateSpec(s, (sp) => (sp.TaskTemplate!.ForceUpdate = 1));
  c.step();
  assert.equal(c.task(old!.ID!).DesiredState, 'running');
  const fresh = c.of('s1').find((t) => t.ID !== old!.ID)!;
  assert.equal(fresh.DesiredState, 'running');
  assert.equal(fresh.Slot, 1);
  c.agents();
  c.step();
  assert.equal(c.task(old!.ID!).DesiredState, 'shutdown');
  c.settle();
  c.advance();
  c.settle();
  assert.equal(c.services.get('s1')?.UpdateStatus?.State, 'completed');
});

test('update failure with FailureAction pause: paused with swarmkit message, no further batches', () => {
  const s = service('s1', { Mode: { Replicated: { Replicas: 3 } }, UpdateConfig: { Parallelism: 1, FailureAction: 'pause' } });
  const c = new Cluster([node('n1')], [s]);
  c.settle();
  updateSpec(s, (sp) => (sp.TaskTemplate!.ContainerSpec!.Image = 'bad:1'));
  c.step();
  c.agents();
  c.step();
  const fresh = c.of('s1').find((t) => t.Spec?.ContainerSpec?.Image === 'bad:1')!;
  c.setState(fresh, 'failed');
  c.settle();
  const us = c.services.get('s1')?.UpdateStatus;
  assert.equal(us?.State, 'paused');
  assert.equal(us?.Message, `update paused due to failure or early termination of task ${fresh.ID}`);
  assert.equal(image(c, 's1', 'busybox:latest'), 2, 'the other slots were not updated');
});

test('update failure with FailureAction rollback: the previous spec comes back with RollbackConfig, rollback_completed', () => {
  const s = service('s1', {
    Mode: { Replicated: { Replicas: 4 } },
    UpdateConfig: { Parallelism: 2, FailureAction: 'rollback', Monitor: 5 * SECOND, MaxFailureRatio: 0 },
    RollbackConfig: { Parallelism: 0, Monitor: 2 * SECOND },
  });
  const c = new Cluster([node('n1'), node('n2')], [s]);
  c.settle();
  const before = structuredClone(s.Spec);
  updateSpec(s, (sp) => (sp.TaskTemplate!.ContainerSpec!.Image = 'bad:1'));
  c.step();
  c.agents();
  c.step();
  c.agents();
  c.advance(1000);
  const bad = c.running('s1').filter((t) => t.Spec?.ContainerSpec?.Image === 'bad:1');
  assert.equal(bad.length, 2);
  c.setState(bad[0]!, 'failed');
  const changes = c.step();
  const rb = changes.find((x) => x.kind === 'updateService');
  assert.ok(rb?.kind === 'updateService');
  assert.equal(rb.updateStatus.State, 'rollback_started');
  assert.equal(rb.updateStatus.Message, `update rolled back due to failure or early termination of task ${bad[0]!.ID}`);
  assert.deepEqual(rb.spec, before);
  assert.equal(rb.previousSpec, null);
  c.agents();
  c.settle();
  c.advance();
  c.settle();
  const us = c.services.get('s1')?.UpdateStatus;
  assert.equal(us?.State, 'rollback_completed');
  assert.equal(us?.Message, 'rollback completed');
  assert.equal(image(c, 's1', 'busybox:latest'), 4);
  assert.equal(c.running('s1').length, 4);
});

test('a failure after the Monitor window does not count; MaxFailureRatio tolerates failures up to the ratio', () => {
  const s = service('s1', {
    Mode: { Replicated: { Replicas: 4 } },
    UpdateConfig: { Parallelism: 0, FailureAction: 'pause', Monitor: 5 * SECOND, MaxFailureRatio: 0.25 },
  });
  const c = new Cluster([node('n1')], [s]);
  c.settle();
  updateSpec(s, (sp) => (sp.TaskTemplate!.ContainerSpec!.Image = 'busybox:2'));
  c.settle();
  assert.equal(image(c, 's1', 'busybox:2'), 4);
  c.advance(1000);
  c.setState(c.running('s1')[0]!, 'failed'); // 1 of 4 = 0.25: tolerated
  c.settle();
  assert.equal(c.services.get('s1')?.UpdateStatus?.State, 'updating');
  c.advance(10_000);
  c.setState(c.running('s1')[1]!, 'failed'); // past Monitor: not counted
  c.settle();
  c.advance();
  c.settle();
  assert.equal(c.services.get('s1')?.UpdateStatus?.State, 'completed');
});

test('global service update replaces the task on each node', () => {
  const s = service('g', { Mode: { Global: {} }, UpdateConfig: { Parallelism: 1, Monitor: 1 * SECOND } });
  const c = new Cluster([node('n1'), node('n2')], [s]);
  c.settle();
  updateSpec(s, (sp) => (sp.TaskTemplate!.ContainerSpec!.Image = 'busybox:2'));
  for (let i = 0; i < 5; i++) {
    c.settle();
    c.advance();
  }
  assert.equal(c.services.get('g')?.UpdateStatus?.State, 'completed');
  assert.deepEqual(c.perNode('g'), { n1: 1, n2: 1 });
  assert.equal(image(c, 'g', 'busybox:2'), 2);
});

test('a placement-only change keeps tasks whose node still satisfies it', () => {
  const s = service('s1', { Mode: { Replicated: { Replicas: 2 } } });
  const c = new Cluster([node('n1', { labels: { a: '1' } }), node('n2')], [s]);
  c.settle();
  updateSpec(s, (sp) => (sp.TaskTemplate!.Placement = { Constraints: ['node.labels.a==1'] }));
  c.settle();
  c.advance();
  c.settle();
  assert.deepEqual(c.perNode('s1'), { n1: 2 });
  assert.equal(c.of('s1').length, 3, 'only the task on n2 was replaced');
});

test('manual rollback (rollback=previous): rolled back with RollbackConfig, rollback_completed', () => {
  const s = service('s1', { Mode: { Replicated: { Replicas: 2 } }, RollbackConfig: { Parallelism: 1, Monitor: 1 * SECOND } });
  const c = new Cluster([node('n1')], [s]);
  c.settle();
  updateSpec(s, (sp) => (sp.TaskTemplate!.ContainerSpec!.Image = 'busybox:2'));
  for (let i = 0; i < 10 && s.UpdateStatus?.State !== 'completed'; i++) {
    c.settle();
    c.advance();
  }
  assert.equal(image(c, 's1', 'busybox:2'), 2);
  const back = applyServiceUpdate(s, s.Spec!, c.now, true);
  c.services.set('s1', back);
  const first = c.step();
  // Parallelism 1 from RollbackConfig: one slot at a time
  assert.equal(first.filter((x) => x.kind === 'createTask').length, 1);
  assert.equal(
    first.some((x) => x.kind === 'updateService'),
    false,
    'rollback_started was set by the API',
  );
  for (let i = 0; i < 10 && back.UpdateStatus?.State === 'rollback_started'; i++) {
    c.agents();
    c.settle();
    c.advance();
  }
  assert.equal(back.UpdateStatus?.State, 'rollback_completed');
  assert.equal(back.UpdateStatus?.Message, 'rollback completed');
  assert.equal(image(c, 's1', 'busybox:latest'), 2);
});
