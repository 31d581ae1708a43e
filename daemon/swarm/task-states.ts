// swarmkit's task states in their numeric order (api/types.proto: NEW 0, PENDING 64, ALLOCATED 128,
// ASSIGNED 192 … ORPHANED 832): the one order the orchestrator, the agent and the task filters
// compare by.
import type { definitions } from '../api-types/gen/engine-api';

export type TaskState = definitions['TaskState'];

export const TASK_STATE_ORDER: readonly TaskState[] = [
  'new',
  'pending',
  'assigned',
  'accepted',
  'preparing',
  'ready',
  'starting',
  'running',
  'complete',
  'shutdown',
  'failed',
  'rejected',
  'remove',
  'orphaned',
];

/** The state's rank; `allocated` sits between pending and assigned; an absent state ranks as new. */
export function stateRank(s: TaskState | undefined): number {
  if (s === 'allocated') return 1.5;
  return TASK_STATE_ORDER.indexOf(s ?? 'new');
}

export const RUNNING_RANK = stateRank('running');
