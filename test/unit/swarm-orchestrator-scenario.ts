// A random-scenario check of the orchestrator: events played on the fake cluster, then invariants.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Cluster, node, service } from './swarm-orchestrator-kit';

export type Event =
  | { e: 'fail'; pick: number }
  | { e: 'down'; node: number }
  | { e: 'up'; node: number }
  | { e: 'avail'; node: number; a: 'active' | 'pause' | 'drain' }
  | { e: 'scale'; replicas: number }
  | { e: 'update'; tag: number }
  | { e: 'time'; ms: number };

export const event: fc.Arbitrary<Event> = fc.oneof(
  fc.record({ e: fc.constant('fail' as const), pick: fc.nat(20) }),
  fc.record({ e: fc.constant('down' as const), node: fc.nat(3) }),
  fc.record({ e: fc.constant('up' as const), node: fc.nat(3) }),
  fc.record({
    e: fc.constant('avail' as const),
    node: fc.nat(3),
    a: fc.constantFrom('active' as const, 'pause' as const, 'drain' as const),
  }),
  fc.record({ e: fc.constant('scale' as const), replicas: fc.nat(6) }),
  fc.record({ e: fc.constant('update' as const), tag: fc.nat(3) }),
  fc.record({ e: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 20_000 }) }),
);

function play(c: Cluster, ev: Event): void {
  const nodes = [...c.nodes.values()];
  switch (ev.e) {
    case 'fail': {
      const running = [...c.tasks.values()].filter((t) => t.Status?.State === 'running');
      const t = running[ev.pick % Math.max(running.length, 1)];
      if (t !== undefined) c.setState(t, 'failed');
      break;
    }
    case 'down':
    case 'up': {
      const n = nodes[ev.node % nodes.length];
      if (n?.Status !== undefined) n.Status.State = ev.e === 'down' ? 'down' : 'ready';
      break;
    }
    case 'avail': {
      const n = nodes[ev.node % nodes.length];
      if (n?.Spec !== undefined) n.Spec.Availability = ev.a;
      break;
    }
    case 'scale':
      c.services.get('r')!.Spec!.Mode = { Replicated: { Replicas: ev.replicas } };
      break;
    case 'update':
      for (const s of c.services.values()) {
        const next = structuredClone(s.Spec!);
        next.TaskTemplate!.ContainerSpec!.Image = `busybox:${ev.tag}`;
        s.PreviousSpec = s.Spec!;
        s.Spec = next;
        delete s.UpdateStatus;
      }
      break;
    case 'time':
      c.advance(ev.ms);
      break;
  }
}

/** Plays the events on a fresh cluster and checks it settles to the specs. */
export function scenario(events: Event[], replicas: number): void {
  const r = service('r', {
    Mode: { Replicated: { Replicas: replicas } },
    UpdateConfig: { Parallelism: 2, Monitor: 1e9, FailureAction: 'continue' },
  });
  const g = service('g', { Mode: { Global: {} }, UpdateConfig: { Parallelism: 1, Monitor: 1e9, FailureAction: 'continue' } });
  const c = new Cluster([node('n0'), node('n1'), node('n2'), node('n3')], [r, g]);
  c.settle();
  for (const ev of events) {
    play(c, ev);
    c.settle();
  }
  // let pending waits (updates, monitor windows) run out
  for (let i = 0; i < 40 && c.last?.wakeAt !== undefined; i++) {
    c.advance();
    c.settle();
  }
  assert.deepEqual(c.step(), [], 'a settled cluster gives no changes');
  assert.equal(c.last?.wakeAt, undefined);
  // an update waits for new tasks that cannot be placed (as swarmkit's updater waits for them to run)
  const stuck = (id: string): boolean =>
    c.of(id).some((t) => (t.DesiredState === 'running' || t.DesiredState === 'ready') && t.Status?.State === 'pending');
  const usable = [...c.nodes.values()].filter((n) => n.Status?.State === 'ready' && n.Spec?.Availability === 'active');
  const want = r.Spec!.Mode!.Replicated!.Replicas!;
  // one runnable task per slot, Replicas slots
  const slots = c.running('r').map((t) => t.Slot);
  assert.equal(new Set(slots).size, slots.length);
  assert.equal(slots.length, want);
  for (const t of c.of('r')) {
    if (t.DesiredState !== 'running') continue;
    // running tasks sit on live nodes, placed tasks match the current spec
    const n = c.nodes.get(t.NodeID ?? '');
    if (n === undefined) assert.equal(usable.length, 0);
    else assert.notEqual(n.Status?.State, 'down');
    if (!stuck('r')) assert.equal(t.Spec?.ContainerSpec?.Image, r.Spec!.TaskTemplate!.ContainerSpec!.Image);
  }
  // global: a task on every usable node, none on drained or down ones
  for (const t of c.running('g')) {
    const n = c.nodes.get(t.NodeID ?? '')!;
    assert.equal(n.Status?.State, 'ready', JSON.stringify(t));
    assert.notEqual(n.Spec?.Availability, 'drain');
  }
  for (const n of usable) assert.equal(c.running('g').filter((t) => t.NodeID === n.ID).length, 1);
  // history stays bounded per slot
  const perSlot = new Map<string, number>();
  for (const t of c.tasks.values()) {
    const k = `${t.ServiceID}/${t.Slot ?? t.NodeID}`;
    perSlot.set(k, (perSlot.get(k) ?? 0) + 1);
  }
  for (const [k, n] of perSlot) assert.ok(n <= 6, `${k} keeps ${n} tasks`);
  // an update waits for tasks it cannot place (as swarmkit's: a global task on a paused node stays pending)
  for (const s of [r, g]) if (s.UpdateStatus !== undefined && !stuck(s.ID!)) assert.equal(s.UpdateStatus.State, 'completed');
}
