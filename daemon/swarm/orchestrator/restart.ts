// The restart supervisor (swarmkit's orchestrator/restart): a task that ended, or whose node was
// lost, gets desired state shutdown and, as its restart policy says, a replacement in its slot.
// The restart delay is not waited for: the replacement is created at once with desired state
// `ready` and promoted to `running` once the delay has passed and its predecessor has stopped.
import { isDeepStrictEqual } from 'node:util';
import { effectiveRestart } from './defaults';
import { byCreation, createdAt, hasEnded, isRunnable, newTask, nodeLost } from './task';
import type { Service, Task, TaskState } from './types';
import { RUNNING_RANK, stateRank } from './types';
import type { Working } from './working';

export function isGlobal(s: Service): boolean {
  return s.Spec?.Mode?.Global !== undefined;
}

/** The slot a task belongs to: its slot number (replicated) or its node (global). */
export function slotKey(service: Service, t: Task): string {
  return isGlobal(service) ? `n:${t.NodeID ?? ''}` : `s:${t.Slot ?? 0}`;
}

export function slotTasks(w: Working, service: Service, key: string): Task[] {
  return w
    .tasksOf(service.ID ?? '')
    .filter((t) => slotKey(service, t) === key)
    .sort(byCreation);
}

/** The task is (or may be) still running somewhere: assigned to a live node and not ended. */
export function isUp(w: Working, t: Task): boolean {
  if (hasEnded(t) || (t.NodeID ?? '') === '') return false;
  if (nodeLost(w.nodes.get(t.NodeID ?? ''))) return false;
  return stateRank(t.Status?.State) >= stateRank('assigned');
}

/** swarmkit's shouldRestart: the condition, then MaxAttempts within Window over the slot's tasks of this spec. */
export function shouldRestart(w: Working, service: Service, t: Task): boolean {
  const rp = effectiveRestart(t.Spec?.RestartPolicy);
  if (rp.condition === 'none') return false;
  if (rp.condition === 'on-failure' && t.Status?.State === 'complete') return false;
  if (rp.maxAttempts === 0) return true;
  // the restart history is per spec: an update starts it afresh
  const same = slotTasks(w, service, slotKey(service, t)).filter((o) => isDeepStrictEqual(o.Spec ?? {}, t.Spec ?? {}));
  const restarts = same.slice(1).filter((o) => rp.windowMs === 0 || createdAt(o) > w.now - rp.windowMs);
  return restarts.length < rp.maxAttempts;
}

/** Creates the replacement of `old` in its slot. */
export function replace(w: Working, service: Service, old: Task, delayMs: number): Task {
  const waits = delayMs > 0 || isUp(w, old);
  const desired: TaskState = waits ? 'ready' : 'running';
  const t = newTask(service, w.newId(), w.now, {
    ...(isGlobal(service) ? { nodeId: old.NodeID ?? '' } : { slot: old.Slot ?? 0 }),
    desired,
  });
  w.create(t);
  if (delayMs > 0) w.wake(w.now + delayMs);
  return t;
}

/**
 * Tasks of the service that ended, or (replicated) sit on a lost or drained node: shut down and,
 * where the policy says so (always for a lost node), replaced. Global tasks on lost or ineligible
 * nodes are left to the global reconcile (no replacement elsewhere).
 */
export function restartStep(w: Working, service: Service): void {
  const global = isGlobal(service);
  for (const t of w.tasksOf(service.ID ?? '').sort(byCreation)) {
    if (!isRunnable(t)) continue;
    const nodeId = t.NodeID ?? '';
    const node = nodeId === '' ? undefined : w.nodes.get(nodeId);
    const lost = nodeId !== '' && nodeLost(node);
    const drained = nodeId !== '' && node?.Spec?.Availability === 'drain';
    const ended = hasEnded(t);
    if (!ended && !lost && !drained) continue;
    if (global && !ended) continue;
    // a global task is restarted only where it may run again; the global reconcile handles the rest
    const stays = !global || (node !== undefined && !lost && !drained);
    const restart = stays && (lost || drained || shouldRestart(w, service, t));
    w.setDesired(t, 'shutdown');
    if (restart) replace(w, service, t, effectiveRestart(t.Spec?.RestartPolicy).delayMs);
  }
}

/** Whether the task's predecessor in its slot ended by itself (a restart), rather than being stopped by an update. */
function followsFailure(w: Working, service: Service, t: Task): boolean {
  const before = slotTasks(w, service, slotKey(service, t)).filter((o) => o.ID !== t.ID && byCreation(o, t) < 0);
  const prev = before[before.length - 1];
  if (prev === undefined) return false;
  const s = prev.Status?.State;
  return s === 'failed' || s === 'complete' || s === 'rejected' || s === 'orphaned' || nodeLost(w.nodes.get(prev.NodeID ?? ''));
}

/** Tasks waiting in desired state ready start once their predecessor stopped and their restart delay passed. */
export function promoteStep(w: Working, service: Service): void {
  for (const t of w.tasksOf(service.ID ?? '')) {
    if (t.DesiredState !== 'ready' || hasEnded(t)) continue;
    const others = slotTasks(w, service, slotKey(service, t)).filter((o) => o.ID !== t.ID);
    if (others.some((o) => isUp(w, o) && stateRank(o.Status?.State) <= RUNNING_RANK)) continue;
    const delay = followsFailure(w, service, t) ? effectiveRestart(t.Spec?.RestartPolicy).delayMs : 0;
    const at = createdAt(t) + delay;
    if (w.now >= at) w.setDesired(t, 'running');
    else w.wake(at);
  }
}
