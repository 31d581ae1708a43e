// The rolling updater (swarmkit's orchestrator/update), as a step the caller repeats: each call
// looks at the slots whose task no longer matches the service's template and moves the update on.
// - a batch of Parallelism slots (0: all) starts once the previous batch runs and Delay has passed
//   since its last task started running;
// - stop-first: the old task gets desired shutdown, the new one waits in desired `ready` until the
//   old one stopped; start-first: the new one starts, the old one is shut down once it runs;
// - a task of this update that fails before running or within Monitor of starting counts as a
//   failure; past MaxFailureRatio of the slots, FailureAction pauses, rolls back (Spec becomes
//   PreviousSpec, RollbackConfig then drives) or continues;
// - no dirty slot left and Monitor passed since the last start: completed (or rollback_completed).
// UpdateStatus carries swarmkit's states and messages.
import { parseConstraints, nodeMatches } from './constraint';
import { effectiveUpdate } from './defaults';
import { isGlobal, isUp } from './restart';
import { currentTask, type SlotView } from './replicated';
import { createdAt, hasEnded, isDirty, newTask, nodeLost, placementOnlyChange } from './task';
import type { Service, Task, UpdateStatus } from './types';
import { RUNNING_RANK, iso, parseTime, stateRank } from './types';
import type { Working } from './working';

function needsUpdate(w: Working, service: Service, t: Task): boolean {
  if (!isDirty(service, t)) return false;
  if (placementOnlyChange(service, t)) {
    const node = w.nodes.get(t.NodeID ?? '');
    if (node === undefined) return true;
    try {
      return !nodeMatches(parseConstraints(service.Spec?.TaskTemplate?.Placement?.Constraints), node);
    } catch {
      return true;
    }
  }
  return true;
}

const FAILED = new Set(['failed', 'rejected', 'complete']);

function failedOf(w: Working, t: Task): boolean {
  if (FAILED.has(t.Status?.State ?? '')) return true;
  return (t.NodeID ?? '') !== '' && nodeLost(w.nodes.get(t.NodeID ?? '')) && !hasEnded(t);
}

export function rollingUpdate(w: Working, service: Service, slots: SlotView[]): void {
  let us: UpdateStatus | undefined = service.UpdateStatus;
  if (us?.State === 'paused' || us?.State === 'rollback_paused') return;
  const rollingBack = us?.State === 'rollback_started';
  const active = us?.State === 'updating' || rollingBack;
  const cfg = effectiveUpdate(service.Spec ?? {}, rollingBack);
  const startedAt = parseTime(us?.StartedAt);
  const ours = active ? w.tasksOf(service.ID ?? '').filter((t) => !isDirty(service, t) && createdAt(t) >= startedAt) : [];

  if (active && us !== undefined && cfg.failureAction !== 'continue') {
    const failures = ours.filter((t) => {
      if (!failedOf(w, t)) return false;
      const since = w.runningSince.get(t.ID ?? '');
      const at = parseTime(t.Status?.Timestamp) || w.now;
      return since === undefined || at - since <= cfg.monitorMs;
    });
    const total = Math.max(slots.length, 1);
    if (failures.length / total > cfg.maxFailureRatio) {
      const culprit = failures[Math.min(failures.length - 1, Math.floor(cfg.maxFailureRatio * total))];
      const id = culprit?.ID ?? '';
      if (cfg.failureAction === 'pause' || rollingBack || service.PreviousSpec === undefined) {
        const msg = rollingBack
          ? `rollback paused due to failure or early termination of task ${id}`
          : `update paused due to failure or early termination of task ${id}`;
        w.updateService(service, { ...us, State: rollingBack ? 'rollback_paused' : 'paused', Message: msg });
        return;
      }
      w.updateService(
        service,
        { ...us, State: 'rollback_started', Message: `update rolled back due to failure or early termination of task ${id}` },
        { spec: service.PreviousSpec },
      );
      return;
    }
  }

  const clean = (v: SlotView): Task | undefined => [...v.runnable].reverse().find((t) => !needsUpdate(w, service, t));
  // start-first: an old task goes once its successor runs
  for (const v of slots) {
    const c = clean(v);
    if (c === undefined || stateRank(c.Status?.State) !== RUNNING_RANK) continue;
    for (const t of v.runnable) if (t !== c) w.setDesired(t, 'shutdown');
  }
  const dirty = slots.filter((v) => v.runnable.length > 0 && clean(v) === undefined);
  const inFlight = slots.filter((v) => {
    const c = clean(v);
    return c !== undefined && !hasEnded(c) && stateRank(c.Status?.State) < RUNNING_RANK && ours.includes(c);
  });
  const starts = ours.map((t) => w.runningSince.get(t.ID ?? '')).filter((x) => x !== undefined);
  const lastStart = Math.max(startedAt, ...starts);

  if (dirty.length === 0) {
    if (!active || us === undefined || inFlight.length > 0) return;
    const monitor = cfg.delayMs >= cfg.monitorMs ? cfg.delayMs + 1000 : cfg.monitorMs;
    const doneAt = lastStart + monitor;
    if (w.now < doneAt) {
      w.wake(doneAt);
      return;
    }
    w.updateService(service, {
      ...us,
      State: rollingBack ? 'rollback_completed' : 'completed',
      CompletedAt: iso(w.now),
      Message: rollingBack ? 'rollback completed' : 'update completed',
    });
    return;
  }

  if (us === undefined) {
    us = { State: 'updating', StartedAt: iso(w.now), Message: 'update in progress' };
    w.updateService(service, us);
  } else if (inFlight.length > 0) return;
  else if (active && cfg.delayMs > 0 && starts.length > 0 && w.now < lastStart + cfg.delayMs) {
    w.wake(lastStart + cfg.delayMs);
    return;
  }

  const batch = cfg.parallelism === 0 ? dirty : dirty.slice(0, cfg.parallelism);
  for (const v of batch) {
    const old = currentTask(v);
    const stopFirst = cfg.order === 'stop-first';
    if (stopFirst) for (const t of v.runnable) w.setDesired(t, 'shutdown');
    const waits = stopFirst && v.runnable.some((t) => isUp(w, t));
    const t = newTask(service, w.newId(), w.now, {
      ...(isGlobal(service) ? { nodeId: old?.NodeID ?? '' } : { slot: v.slot }),
      desired: waits ? 'ready' : 'running',
    });
    w.create(t);
  }
}
