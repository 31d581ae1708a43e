// One orchestrator step: from the current snapshot (services, tasks with their merged status,
// nodes, now) to the changes that move the cluster toward what the services ask for, plus the
// time it wants to be called again. Pure: the caller watches etcd, calls reconcile on every change
// (and at wakeAt), applies the changes in one transaction and keeps `memory` only if that commit
// succeeded. On a stable snapshot it answers no changes.
import { reconcileGlobal } from './global';
import { reap } from './reaper';
import { scaleReplicated, type SlotView } from './replicated';
import { isGlobal, promoteStep, restartStep } from './restart';
import { schedule } from './scheduler';
import { newId } from './task';
import type { IdGenerator, ReconcileResult, Service, Snapshot } from './types';
import { rollingUpdate } from './update';
import { Working } from './working';
import { compareStrings } from '../../../lib/order';

/** Services the orchestrator drives: replicated and global (jobs are not supported yet). */
function supported(s: Service): boolean {
  const m = s.Spec?.Mode;
  return m?.ReplicatedJob === undefined && m?.GlobalJob === undefined;
}

export function reconcile(snap: Snapshot, ids: IdGenerator = newId): ReconcileResult {
  const w = new Working(snap, ids);
  const services = [...w.services.values()].filter(supported).sort((a, b) => compareStrings(a.ID ?? '', b.ID ?? ''));
  for (const service of services) {
    restartStep(w, service);
    let slots: SlotView[];
    if (isGlobal(service)) slots = reconcileGlobal(w, service);
    else slots = scaleReplicated(w, service);
    rollingUpdate(w, service, slots);
    promoteStep(w, service);
  }
  schedule(w);
  reap(w, snap.taskHistoryRetentionLimit);
  return { changes: w.changes, wakeAt: w.wakeAt, memory: { runningSince: Object.fromEntries(w.runningSince) } };
}
