// Which nodes a service's or a task's logs come from (swarmkit's log broker subscription): the
// tasks are read from `P/tasks/` (their status from `P/task-status/` when the node wrote one);
// without `follow`, tasks that never reached `running` are left out; a node whose `P/alive/` key
// is gone is reported unavailable instead of asked. Lookups as dockerd's getService/getTask:
// full ID, then name, then ID prefix.

import { InvalidParameter, NotFound } from '../../../lib/errors';
import type { ClusterKv } from '../../../store/cluster/kv';
import { idOfKey, type ClusterKeys } from '../keys';
import type { RelayTarget } from './relay';

/** The little of a stored task the relay needs. */
interface TaskLike {
  ID?: string;
  ServiceID?: string;
  NodeID?: string;
  Slot?: number;
  Status?: { State?: string };
  Spec?: { ContainerSpec?: { TTY?: boolean } };
}

interface ServiceLike {
  ID?: string;
  Spec?: { Name?: string; TaskTemplate?: { ContainerSpec?: { TTY?: boolean } } };
}

/** swarmkit's TaskState order. */
const STATES = ['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running'];

function reachedRunning(state: string | undefined): boolean {
  const i = STATES.indexOf(state ?? 'new');
  return i === -1 || i >= STATES.indexOf('running');
}

function pick<T extends { ID?: string }>(all: T[], ref: string, name: (t: T) => string | undefined, kind: string): T {
  const exact = all.find((t) => t.ID === ref);
  if (exact) return exact;
  for (const test of [(t: T) => name(t) === ref, (t: T) => ref !== '' && (t.ID ?? '').startsWith(ref)]) {
    const found = all.filter(test);
    if (found.length > 1) throw new InvalidParameter(`${kind} ${ref} is ambiguous (${found.length} matches found)`);
    if (found.length === 1) return found[0];
  }
  throw new NotFound(`${kind} ${ref} not found`);
}

export interface LogTargets extends RelayTarget {
  /** Whether the selected containers have a TTY (the stream is then raw, as dockerd). */
  tty: boolean;
}

/** The targets of `GET /services/{id}/logs` or `GET /tasks/{id}/logs`. */
export async function logTargets(
  kv: ClusterKv,
  keys: ClusterKeys,
  kind: 'service' | 'task',
  ref: string,
  follow: boolean,
): Promise<LogTargets> {
  const { entries } = await kv.list(keys.prefix);
  const under = <T>(prefix: string): T[] =>
    entries.filter((e) => e.key.startsWith(prefix)).map((e) => ({ ...(JSON.parse(e.value) as T), ID: idOfKey(e.key) }));
  const status = new Map(entries.filter((e) => e.key.startsWith(keys.taskStatusPrefix)).map((e) => [idOfKey(e.key), e.value]));
  const alive = new Set(entries.filter((e) => e.key.startsWith(keys.alivePrefix)).map((e) => idOfKey(e.key)));
  const tasks = under<TaskLike>(keys.tasksPrefix).map((t) => {
    const s = status.get(t.ID ?? '');
    if (!s) return t;
    try {
      return { ...t, Status: JSON.parse(s) as { State?: string } };
    } catch {
      return t;
    }
  });
  let selected: TaskLike[];
  let tty: boolean;
  let services: string[] = [];
  let taskIds: string[] = [];
  if (kind === 'service') {
    const svc = pick(under<ServiceLike>(keys.servicesPrefix), ref, (s) => s.Spec?.Name, 'service');
    tty = svc.Spec?.TaskTemplate?.ContainerSpec?.TTY === true;
    services = [svc.ID ?? ''];
    selected = tasks.filter((t) => t.ServiceID === svc.ID && (follow || reachedRunning(t.Status?.State)));
  } else {
    const task = pick(tasks, ref, () => undefined, 'task');
    tty = task.Spec?.ContainerSpec?.TTY === true;
    taskIds = [task.ID ?? ''];
    selected = [task];
  }
  const nodes = [...new Set(selected.map((t) => t.NodeID ?? '').filter((n) => n !== ''))];
  return {
    tty,
    tasks: taskIds,
    services,
    nodes: nodes.filter((n) => alive.has(n)),
    unavailable: nodes.filter((n) => !alive.has(n)),
  };
}
