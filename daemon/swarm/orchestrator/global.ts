// Global services (swarmkit's orchestrator/global): one task per eligible node. A node is eligible
// while it is not down, not drained and satisfies the placement constraints; a paused node keeps
// its task but gets no new one. Tasks on nodes that stop being eligible are shut down and not
// replaced elsewhere.
import { parseConstraints, nodeMatches } from './constraint';
import { byCreation, endedByItself, isDirty, isRunnable, newTask, nodeLost } from './task';
import type { Node, Service, Task } from './types';
import type { Working } from './working';
import type { SlotView } from './replicated';
import { shouldRestart } from './restart';
import { compareStrings } from '../../../lib/order';

function constraintsOf(service: Service): ReturnType<typeof parseConstraints> {
  try {
    return parseConstraints(service.Spec?.TaskTemplate?.Placement?.Constraints);
  } catch {
    return [];
  }
}

function eligible(service: Service, n: Node): boolean {
  if (nodeLost(n) || n.Spec?.Availability === 'drain') return false;
  return nodeMatches(constraintsOf(service), n);
}

/** Creates the missing per-node tasks, shuts down those of ineligible nodes; returns the slots kept. */
export function reconcileGlobal(w: Working, service: Service): SlotView[] {
  const byNode = new Map<string, Task[]>();
  for (const t of w.tasksOf(service.ID ?? '')) {
    const id = t.NodeID ?? '';
    byNode.set(id, [...(byNode.get(id) ?? []), t]);
  }
  const kept: SlotView[] = [];
  let slot = 0;
  for (const node of [...w.nodes.values()].sort((a, b) => compareStrings(a.ID ?? '', b.ID ?? ''))) {
    const id = node.ID ?? '';
    const tasks = byNode.get(id) ?? [];
    byNode.delete(id);
    const runnable = tasks.filter((t) => isRunnable(t) && t.DesiredState !== 'remove');
    if (!eligible(service, node)) {
      for (const t of runnable) w.setDesired(t, 'shutdown');
      continue;
    }
    slot++;
    if (runnable.length > 0) {
      kept.push({ slot, runnable });
      continue;
    }
    const last = [...tasks].sort(byCreation).pop();
    // a task that ended and that its restart policy did not replace keeps the node's place
    if (last !== undefined && endedByItself(last) && !isDirty(service, last) && !shouldRestart(w, service, last)) {
      kept.push({ slot, runnable: [] });
      continue;
    }
    if (node.Spec?.Availability === 'pause' || node.Status?.State !== 'ready') continue;
    const t = newTask(service, w.newId(), w.now, { nodeId: id, desired: 'running' });
    w.create(t);
    kept.push({ slot, runnable: [t] });
  }
  // tasks of nodes that left the cluster
  for (const tasks of byNode.values()) for (const t of tasks) if (isRunnable(t)) w.setDesired(t, 'shutdown');
  return kept;
}
