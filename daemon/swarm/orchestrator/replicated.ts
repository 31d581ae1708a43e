// Replicated services (swarmkit's orchestrator/replicated): Replicas slots, each with one task the
// orchestrator wants running. Missing slots get new tasks at the lowest free slot numbers; extra
// slots get desired state `remove` (the reaper deletes them once stopped), taken from the nodes
// holding the most tasks of the service first, tasks not running before running ones, then the
// highest slot numbers.
import { byCreation, endedByItself, isDirty, isRunnable, newTask } from './task';
import { shouldRestart } from './restart';
import type { Service, Task } from './types';
import type { Working } from './working';

export interface SlotView {
  slot: number;
  /** Tasks the orchestrator still wants (desired ready or running); more than one during a start-first update. */
  runnable: Task[];
}

/**
 * Slots in use: those with a runnable task, and those whose last task ended and was not restarted
 * by its policy (a dead slot keeps its place until the service's task template changes).
 */
export function occupiedSlots(w: Working, service: Service): SlotView[] {
  const bySlot = new Map<number, Task[]>();
  for (const t of w.tasksOf(service.ID ?? '')) {
    const n = t.Slot ?? 0;
    bySlot.set(n, [...(bySlot.get(n) ?? []), t]);
  }
  const out: SlotView[] = [];
  for (const [slot, tasks] of bySlot) {
    const runnable = tasks.filter((t) => isRunnable(t) && t.DesiredState !== 'remove');
    if (runnable.length > 0) {
      out.push({ slot, runnable });
      continue;
    }
    const last = [...tasks].sort(byCreation).pop();
    if (last !== undefined && endedByItself(last) && !isDirty(service, last) && !shouldRestart(w, service, last))
      out.push({ slot, runnable: [] });
  }
  return out.sort((a, b) => a.slot - b.slot);
}

function isRunning(v: SlotView): boolean {
  return v.runnable.some((t) => t.Status?.State === 'running');
}

/** Creates or removes slots to match Replicas; returns the slots kept (for the updater). */
export function scaleReplicated(w: Working, service: Service): SlotView[] {
  const want = service.Spec?.Mode?.Replicated?.Replicas ?? 1;
  const slots = occupiedSlots(w, service);
  if (slots.length < want) {
    const used = new Set(slots.map((s) => s.slot));
    let n = 0;
    for (let i = slots.length; i < want; i++) {
      do n++;
      while (used.has(n));
      const t = newTask(service, w.newId(), w.now, { slot: n, desired: 'running' });
      w.create(t);
      slots.push({ slot: n, runnable: [t] });
    }
    return slots.sort((a, b) => a.slot - b.slot);
  }
  if (slots.length === want) return slots;
  // Running first, then the nth copy on its node (1, 2, ...), then the slot number: keep the head.
  const perNode = new Map<string, number>();
  const ranked = [...slots]
    .sort((a, b) => Number(isRunning(b)) - Number(isRunning(a)) || a.slot - b.slot)
    .map((v) => {
      const only = v.runnable.length === 1 ? v.runnable[0] : undefined;
      const node = only?.NodeID ?? '';
      if (node === '') return { v, index: v.runnable.length === 0 ? Number.MAX_SAFE_INTEGER : -1 };
      const index = (perNode.get(node) ?? 0) + 1;
      perNode.set(node, index);
      return { v, index };
    });
  const order = ranked
    .map((r, pos) => ({ ...r, pos }))
    .sort((a, b) => {
      // dead slots (no runnable task) are the first to go
      const ad = a.v.runnable.length === 0 ? 1 : 0;
      const bd = b.v.runnable.length === 0 ? 1 : 0;
      return ad - bd || a.index - b.index || a.pos - b.pos;
    });
  const keep = order.slice(0, want).map((r) => r.v);
  for (const r of order.slice(want)) for (const t of r.v.runnable) w.setDesired(t, 'remove');
  return keep.sort((a, b) => a.slot - b.slot);
}

/** A slot's current task (the newest runnable one). */
export function currentTask(v: SlotView): Task | undefined {
  return [...v.runnable].sort(byCreation).pop();
}
