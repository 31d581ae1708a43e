// The working copy one reconcile pass edits: every change is recorded and applied to it at once,
// so later steps (the scheduler above all) see the tasks earlier steps created or stopped.
import { parseTime } from './types';
import type { Change, IdGenerator, Node, Service, Snapshot, Task, TaskState, TaskStatus, UpdateStatus } from './types';

export class Working {
  readonly now: number;
  readonly nodes = new Map<string, Node>();
  readonly tasks = new Map<string, Task>();
  readonly services = new Map<string, Service>();
  readonly changes: Change[] = [];
  /** When each task was first seen running (the updater's Monitor window). */
  readonly runningSince = new Map<string, number>();
  private readonly created = new Map<string, Task>();
  wakeAt: number | undefined;

  constructor(
    snap: Snapshot,
    readonly newId: IdGenerator,
  ) {
    this.now = snap.now;
    for (const n of snap.nodes) if (n.ID !== undefined) this.nodes.set(n.ID, n);
    for (const t of snap.tasks) if (t.ID !== undefined) this.tasks.set(t.ID, structuredClone(t));
    for (const s of snap.services) if (s.ID !== undefined) this.services.set(s.ID, structuredClone(s));
    const before = snap.memory?.runningSince ?? {};
    for (const t of this.tasks.values()) {
      const id = t.ID ?? '';
      const known = before[id];
      if (known !== undefined) this.runningSince.set(id, known);
      else if (t.Status?.State === 'running') this.runningSince.set(id, parseTime(t.Status.Timestamp) || this.now);
    }
  }

  /** Asks to be called again at `t` (the earliest asked for wins; times already past are ignored). */
  wake(t: number): void {
    if (t <= this.now) return;
    if (this.wakeAt === undefined || t < this.wakeAt) this.wakeAt = t;
  }

  private byService: Map<string, Task[]> | undefined;

  /** The service's tasks (indexed once per batch of creations and deletions). */
  tasksOf(serviceId: string): Task[] {
    if (this.byService === undefined) {
      this.byService = new Map();
      for (const t of this.tasks.values()) {
        const sid = t.ServiceID ?? '';
        const list = this.byService.get(sid);
        if (list === undefined) this.byService.set(sid, [t]);
        else list.push(t);
      }
    }
    return [...(this.byService.get(serviceId) ?? [])];
  }

  create(task: Task): Task {
    const id = task.ID ?? '';
    this.tasks.set(id, task);
    this.created.set(id, task);
    this.byService = undefined;
    this.changes.push({ kind: 'createTask', task });
    return task;
  }

  setDesired(t: Task, desired: TaskState): void {
    if (t.DesiredState === desired) return;
    t.DesiredState = desired;
    if (this.created.has(t.ID ?? '')) return; // the create carries it
    const prev = this.changes.find((c) => c.kind === 'setDesiredState' && c.taskId === t.ID);
    if (prev !== undefined && prev.kind === 'setDesiredState') prev.desiredState = desired;
    else this.changes.push({ kind: 'setDesiredState', taskId: t.ID ?? '', desiredState: desired });
  }

  assign(t: Task, nodeId: string, status: TaskStatus): void {
    t.NodeID = nodeId;
    t.Status = status;
    if (this.created.has(t.ID ?? '')) return;
    this.changes.push({ kind: 'assignTask', taskId: t.ID ?? '', nodeId, status });
  }

  setStatus(t: Task, status: TaskStatus): void {
    t.Status = status;
    if (this.created.has(t.ID ?? '')) return;
    this.changes.push({ kind: 'setTaskStatus', taskId: t.ID ?? '', status });
  }

  delete(t: Task): void {
    const id = t.ID ?? '';
    this.tasks.delete(id);
    this.byService = undefined;
    this.changes.push({ kind: 'deleteTask', taskId: id });
  }

  updateService(s: Service, updateStatus: UpdateStatus, rollback?: { spec: NonNullable<Service['Spec']> }): void {
    s.UpdateStatus = updateStatus;
    const change: Change = { kind: 'updateService', serviceId: s.ID ?? '', updateStatus };
    if (rollback !== undefined) {
      s.Spec = rollback.spec;
      delete s.PreviousSpec;
      change.spec = rollback.spec;
      change.previousSpec = null;
    }
    this.changes.push(change);
  }
}
