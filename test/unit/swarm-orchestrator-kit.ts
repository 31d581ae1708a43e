// A fake cluster for the orchestrator's unit tests: applies changes as the stage-2 wiring would
// (one batch at a time), plays the agents (tasks start, stop, fail), and keeps a fake clock.
import { reconcile } from '../../daemon/swarm/orchestrator/reconcile';
import type { Change, Memory, Node, ReconcileResult, Service, ServiceSpec, Task, TaskState } from '../../daemon/swarm/orchestrator/types';

export const T0 = Date.UTC(2026, 0, 1);
const iso = (ms: number): string => new Date(ms).toISOString();

export function node(
  id: string,
  opts: Partial<{
    state: 'ready' | 'down';
    availability: 'active' | 'pause' | 'drain';
    labels: Record<string, string>;
    role: 'worker' | 'manager';
    cpu: number;
    mem: number;
    engineLabels: Record<string, string>;
  }> = {},
): Node {
  return {
    ID: id,
    Spec: { Role: opts.role ?? 'worker', Availability: opts.availability ?? 'active', Labels: opts.labels ?? {} },
    Description: {
      Hostname: `host-${id}`,
      Platform: { OS: 'linux', Architecture: 'x86_64' },
      Resources: { NanoCPUs: opts.cpu ?? 4e9, MemoryBytes: opts.mem ?? 8 * 2 ** 30 },
      Engine: { Labels: opts.engineLabels ?? {} },
    },
    Status: { State: opts.state ?? 'ready', Addr: '192.0.2.1' },
  };
}

export function service(id: string, spec: Partial<ServiceSpec> = {}): Service {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: iso(T0),
    UpdatedAt: iso(T0),
    Spec: {
      Name: `svc-${id}`,
      TaskTemplate: { ContainerSpec: { Image: 'busybox:latest' }, RestartPolicy: { Condition: 'any', Delay: 0 } },
      Mode: { Replicated: { Replicas: 1 } },
      ...spec,
    },
  };
}

export class Cluster {
  now = T0;
  services = new Map<string, Service>();
  tasks = new Map<string, Task>();
  nodes = new Map<string, Node>();
  memory: Memory | undefined;
  retention: number | undefined;
  private n = 0;
  readonly ids = (): string => `task${String(++this.n).padStart(21, '0')}`;
  last: ReconcileResult | undefined;

  constructor(nodes: Node[], services: Service[]) {
    for (const n of nodes) this.nodes.set(n.ID ?? '', n);
    for (const s of services) this.services.set(s.ID ?? '', s);
  }

  /** One reconcile call over the current state. */
  step(): Change[] {
    const r = reconcile(
      {
        services: [...this.services.values()],
        tasks: [...this.tasks.values()],
        nodes: [...this.nodes.values()],
        now: this.now,
        ...(this.retention !== undefined ? { taskHistoryRetentionLimit: this.retention } : {}),
        ...(this.memory !== undefined ? { memory: this.memory } : {}),
      },
      this.ids,
    );
    this.last = r;
    this.memory = r.memory;
    this.apply(r.changes);
    return r.changes;
  }

  apply(changes: Change[]): void {
    for (const c of changes) {
      switch (c.kind) {
        case 'createTask':
          this.tasks.set(c.task.ID ?? '', structuredClone(c.task));
          break;
        case 'setDesiredState':
          this.task(c.taskId).DesiredState = c.desiredState;
          break;
        case 'assignTask':
          Object.assign(this.task(c.taskId), { NodeID: c.nodeId, Status: c.status });
          break;
        case 'setTaskStatus':
          this.task(c.taskId).Status = c.status;
          break;
        case 'deleteTask':
          this.tasks.delete(c.taskId);
          break;
        case 'updateService': {
          const s = this.services.get(c.serviceId);
          if (s === undefined) throw new Error(`no service ${c.serviceId}`);
          s.UpdateStatus = c.updateStatus;
          if (c.spec !== undefined) s.Spec = c.spec;
          if (c.previousSpec === null) delete s.PreviousSpec;
          else if (c.previousSpec !== undefined) s.PreviousSpec = c.previousSpec;
          break;
        }
      }
    }
  }

  task(id: string): Task {
    const t = this.tasks.get(id);
    if (t === undefined) throw new Error(`no task ${id}`);
    return t;
  }

  setState(t: Task, state: TaskState): void {
    t.Status = { ...t.Status, State: state, Timestamp: iso(this.now), Message: state };
  }

  /** The agents: assigned tasks on ready nodes that are desired running start; desired shutdown/remove stop. */
  agents(): void {
    for (const t of this.tasks.values()) {
      const node = this.nodes.get(t.NodeID ?? '');
      if (node === undefined || node.Status?.State !== 'ready') continue;
      const s = t.Status?.State ?? 'new';
      const ended = ['complete', 'shutdown', 'failed', 'rejected'].includes(s);
      if ((t.DesiredState === 'shutdown' || t.DesiredState === 'remove') && !ended) this.setState(t, 'shutdown');
      else if (t.DesiredState === 'running' && (s === 'assigned' || s === 'accepted')) this.setState(t, 'running');
    }
  }

  /** Reconcile and let the agents act until nothing changes (bounded). */
  settle(max = 50): number {
    let rounds = 0;
    for (; rounds < max; rounds++) {
      const before = JSON.stringify([...this.tasks.values()]);
      const changes = this.step();
      this.agents();
      if (changes.length === 0 && before === JSON.stringify([...this.tasks.values()])) return rounds;
    }
    throw new Error('cluster did not settle');
  }

  /** Advance the fake clock to the orchestrator's wakeAt (or by ms). */
  advance(ms?: number): void {
    this.now = ms !== undefined ? this.now + ms : (this.last?.wakeAt ?? this.now);
  }

  of(serviceId: string): Task[] {
    return [...this.tasks.values()].filter((t) => t.ServiceID === serviceId);
  }

  /** Tasks of the service the orchestrator wants running. */
  running(serviceId: string): Task[] {
    return this.of(serviceId).filter((t) => t.DesiredState === 'running');
  }

  slots(serviceId: string): number[] {
    return this.running(serviceId)
      .map((t) => t.Slot ?? 0)
      .sort((a, b) => a - b);
  }

  perNode(serviceId: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.running(serviceId)) out[t.NodeID ?? ''] = (out[t.NodeID ?? ''] ?? 0) + 1;
    return out;
  }
}
