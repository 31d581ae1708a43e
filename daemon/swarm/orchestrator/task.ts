// Tasks as swarmkit's orchestrator.NewTask makes them, and the predicates the other modules share.
import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Node, Service, Task, TaskState } from './types';
import { RUNNING_RANK, iso, stateRank } from './types';
import { compareStrings } from '../../../lib/order';

/** swarmkit's identity.NewID: 17 random bytes, high bit set, base 36, 25 characters after the first. */
export function newId(): string {
  const p = randomBytes(17);
  p[0] = (p[0] ?? 0) | 0x80;
  return BigInt(`0x${p.toString('hex')}`)
    .toString(36)
    .slice(1, 26);
}

/** A new task of the service: Status pending (the orchestrator places tasks itself), no node unless given. */
export function newTask(service: Service, id: string, now: number, opts: { slot?: number; nodeId?: string; desired: TaskState }): Task {
  const t: Task = {
    ID: id,
    Version: { Index: 0 },
    CreatedAt: iso(now),
    UpdatedAt: iso(now),
    Labels: {},
    Spec: structuredClone(service.Spec?.TaskTemplate ?? {}),
    ServiceID: service.ID ?? '',
    Status: { Timestamp: iso(now), State: 'pending', Message: 'pending task scheduling' },
    DesiredState: opts.desired,
  };
  if (opts.slot !== undefined) t.Slot = opts.slot;
  if (opts.nodeId !== undefined) t.NodeID = opts.nodeId;
  return t;
}

/** The orchestrator still wants the task (desired new..running, including ready: waiting to start). */
export function isRunnable(t: Task): boolean {
  return stateRank(t.DesiredState) <= RUNNING_RANK;
}

/** The task has stopped for good (complete, shutdown, failed, rejected, remove, orphaned). */
export function hasEnded(t: Task): boolean {
  return stateRank(t.Status?.State) > RUNNING_RANK;
}

/** Shut down by the orchestrator after it exited, failed or was rejected (not stopped by an update or scale-down). */
export function endedByItself(t: Task): boolean {
  const s = t.Status?.State;
  return t.DesiredState === 'shutdown' && (s === 'complete' || s === 'failed' || s === 'rejected');
}

/** The node is gone or down: its tasks are lost. */
export function nodeLost(n: Node | undefined): boolean {
  return n === undefined || n.Status?.State === 'down';
}

/** The task's spec differs from the service's template (swarmkit's IsTaskDirty, without the spec version). */
export function isDirty(service: Service, t: Task): boolean {
  const want = service.Spec?.TaskTemplate ?? {};
  const have = t.Spec ?? {};
  if (isDeepStrictEqual(want, have)) return false;
  return true;
}

/** Only the placement differs: a task on a node that still satisfies it is not updated. */
export function placementOnlyChange(service: Service, t: Task): boolean {
  const want = { ...(service.Spec?.TaskTemplate ?? {}), Placement: undefined };
  const have = { ...(t.Spec ?? {}), Placement: undefined };
  return isDeepStrictEqual(want, have);
}

export function createdAt(t: Task): number {
  return Date.parse((t.CreatedAt ?? '').replace(/(\.\d{3})\d+/, '$1')) || 0;
}

/** Oldest first; ID breaks ties so the order is stable. */
export function byCreation(a: Task, b: Task): number {
  return createdAt(a) - createdAt(b) || compareStrings(a.ID ?? '', b.ID ?? '');
}
