// The orchestrator's vocabulary: the Engine API's own shapes (what is stored under P/services/,
// P/tasks/, P/nodes/), the snapshot reconcile reads, and the changes it answers with. Pure types
// and a few time helpers; nothing here does I/O.
import type { definitions } from '../../api-types/gen/engine-api';

type Def<K extends keyof definitions> = NonNullable<definitions[K]>;

export type ServiceSpec = Def<'ServiceSpec'>;
export type TaskSpec = Def<'TaskSpec'>;
export type Task = Def<'Task'>;
export type TaskStatus = Def<'TaskStatus'>;
export type TaskState = Def<'TaskState'>;
export type Node = Def<'Node'>;
export type UpdateConfig = NonNullable<ServiceSpec['UpdateConfig']>;
export type RestartPolicy = NonNullable<TaskSpec['RestartPolicy']>;
export type EndpointSpec = Def<'EndpointSpec'>;

/** swarm.UpdateState: the spec's enum lists three, dockerd answers six. */
export type UpdateState = 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export interface UpdateStatus {
  State?: UpdateState;
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

/** A Service as dockerd answers it: the spec's definition plus PreviousSpec, with all six update states. */
export type Service = Omit<Def<'Service'>, 'UpdateStatus'> & {
  PreviousSpec?: ServiceSpec;
  UpdateStatus?: UpdateStatus;
};

/** What reconcile reads. Tasks carry their merged Status (P/task-status over the task's own). */
export interface Snapshot {
  services: readonly Service[];
  tasks: readonly Task[];
  nodes: readonly Node[];
  /** Milliseconds since the epoch. */
  now: number;
  /** Cluster `Orchestration.TaskHistoryRetentionLimit` (default 5; negative keeps everything). */
  taskHistoryRetentionLimit?: number;
  /** What the previous call returned (lost on a leader change, as swarmkit's in-memory updater state). */
  memory?: Memory;
}

/** The little the orchestrator remembers between calls: when each task was first seen running. */
export interface Memory {
  runningSince: Readonly<Record<string, number>>;
}

/** One write. The stage-2 wiring applies a reconcile's changes in one etcd transaction. */
export type Change =
  /** Create P/tasks/<id> (its Status is the orchestrator's: pending, or assigned when placed at once). */
  | { kind: 'createTask'; task: Task }
  /** Set an existing task's DesiredState. */
  | { kind: 'setDesiredState'; taskId: string; desiredState: TaskState }
  /** Place a pending task: NodeID and the orchestrator-written Status (assigned). */
  | { kind: 'assignTask'; taskId: string; nodeId: string; status: TaskStatus }
  /** An unplaced task's Status (pending with "no suitable node (…)" in Err). */
  | { kind: 'setTaskStatus'; taskId: string; status: TaskStatus }
  /** Delete P/tasks/<id> and P/task-status/<id> (history beyond the retention limit, removed services). */
  | { kind: 'deleteTask'; taskId: string }
  /** Write a service's UpdateStatus; on an automatic rollback also its Spec and PreviousSpec (null: delete). */
  | {
      kind: 'updateService';
      serviceId: string;
      updateStatus: UpdateStatus;
      spec?: ServiceSpec;
      previousSpec?: ServiceSpec | null;
    };

export interface ReconcileResult {
  changes: Change[];
  /** The earliest time (ms since the epoch) reconcile wants to run again without a change; undefined: only on changes. */
  wakeAt: number | undefined;
  memory: Memory;
}

export type IdGenerator = () => string;

export { RUNNING_RANK, stateRank } from '../task-states';

/** RFC 3339 with the precision a millisecond clock has. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** An RFC 3339 time (Go writes up to nanoseconds) to milliseconds; NaN for garbage, 0 for absent. */
export function parseTime(t: string | undefined): number {
  if (t === undefined || t === '') return 0;
  return Date.parse(t.replace(/(\.\d{3})\d+/, '$1'));
}
