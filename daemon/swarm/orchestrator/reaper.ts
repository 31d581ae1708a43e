// The task reaper (swarmkit's orchestrator/taskreaper): tasks of removed services and tasks with
// desired state `remove` are deleted once they stopped (or never got a node, or their node is
// gone); each slot (replicated) or node (global) keeps TaskHistoryRetentionLimit tasks, or
// MaxAttempts + 1 when the restart policy sets MaxAttempts (the restart history is read back from
// them), deleting the oldest tasks that have stopped and that the orchestrator no longer wants.
import { DEFAULT_TASK_HISTORY } from './defaults';
import { slotKey } from './restart';
import { byCreation, hasEnded, isRunnable, nodeLost } from './task';
import type { Task } from './types';
import type { Working } from './working';

function gone(w: Working, t: Task): boolean {
  const node = t.NodeID ?? '';
  if (node === '') return true;
  if (nodeLost(w.nodes.get(node))) return true;
  return hasEnded(t) || t.Status?.State === 'pending' || t.Status?.State === 'new';
}

export function reap(w: Working, retentionLimit: number | undefined): void {
  const limit = retentionLimit ?? DEFAULT_TASK_HISTORY;
  const groups = new Map<string, Task[]>();
  for (const t of [...w.tasks.values()]) {
    const service = w.services.get(t.ServiceID ?? '');
    if (service === undefined) {
      if (gone(w, t)) w.delete(t);
      else w.setDesired(t, 'remove');
      continue;
    }
    if (t.DesiredState === 'remove') {
      if (gone(w, t)) w.delete(t);
      continue;
    }
    const key = `${t.ServiceID ?? ''}/${slotKey(service, t)}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  for (const tasks of groups.values()) {
    const service = w.services.get(tasks[0]?.ServiceID ?? '');
    const maxAttempts = service?.Spec?.TaskTemplate?.RestartPolicy?.MaxAttempts ?? 0;
    const keep = maxAttempts > 0 ? maxAttempts + 1 : limit;
    if (keep < 0 || tasks.length <= keep) continue;
    let count = tasks.length;
    for (const t of tasks.sort(byCreation)) {
      if (count <= keep) break;
      if (isRunnable(t) || !hasEnded(t)) continue;
      w.delete(t);
      count--;
    }
  }
}
