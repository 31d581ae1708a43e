// dockerd's Container.UpdateContainer rules for `docker update`: which settings change, which
// combinations conflict, and the error texts, without touching the runtime.
import { BerthError, Conflict, InvalidParameter, SystemError, errorMessage } from '../../lib/errors';
import type { HostConfig } from './api-types';
import type { LiveContainer } from './live-container';
import { validateRestartPolicy, verifyResources } from './settings';

/** An InvalidParameter worded as dockerd's update failures. */
export function updateFailure(id: string, msg: string): InvalidParameter {
  return new InvalidParameter(`Cannot update container ${id}: ${msg}`);
}

/**
 * The host config after `changes`, and the warnings: a zero value leaves a setting as it is,
 * NanoCpus and CpuPeriod/CpuQuota exclude each other, and a memory limit above the current swap
 * limit needs a new swap limit in the same update.
 */
export function applyUpdate(id: string, cur: HostConfig, changes: HostConfig): { next: HostConfig; warnings: string[] } {
  const fail = (msg: string): never => {
    throw updateFailure(id, msg);
  };
  const asUpdateError = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof BerthError) fail(err.message);
      throw err;
    }
  };
  const warnings = asUpdateError(() => {
    const w = verifyResources(changes, { update: true });
    if (changes.RestartPolicy?.Name) validateRestartPolicy(changes.RestartPolicy);
    return w;
  });
  const nano = changes.NanoCpus ?? 0;
  const period = changes.CpuPeriod ?? 0;
  const quota = changes.CpuQuota ?? 0;
  if (nano > 0 && (cur.CpuPeriod ?? 0) > 0) fail('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if (nano > 0 && (cur.CpuQuota ?? 0) > 0) fail('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if (period > 0 && (cur.NanoCpus ?? 0) > 0) fail('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if (quota > 0 && (cur.NanoCpus ?? 0) > 0) fail('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  const next: HostConfig = { ...cur };
  const setIf = <K extends keyof HostConfig>(k: K): void => {
    const v = changes[k];
    if (v !== undefined && v !== null && v !== 0 && v !== '') next[k] = v;
  };
  for (const k of ['BlkioWeight', 'CpuShares', 'NanoCpus', 'CpuPeriod', 'CpuQuota', 'CpusetCpus', 'CpusetMems'] as const) setIf(k);
  const memory = changes.Memory ?? 0;
  if (memory !== 0) {
    if (memory > (cur.MemorySwap ?? 0) && !changes.MemorySwap) {
      fail('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
    }
    next.Memory = memory;
  }
  for (const k of ['MemorySwap', 'MemoryReservation', 'CpuRealtimePeriod', 'CpuRealtimeRuntime'] as const) setIf(k);
  if (changes.PidsLimit !== undefined && changes.PidsLimit !== null) next.PidsLimit = changes.PidsLimit > 0 ? changes.PidsLimit : null;
  if (changes.RestartPolicy?.Name) {
    if (cur.AutoRemove && changes.RestartPolicy.Name !== 'no') {
      fail('Restart policy cannot be updated because AutoRemove is enabled for the container');
    }
    next.RestartPolicy = { Name: changes.RestartPolicy.Name, MaximumRetryCount: changes.RestartPolicy.MaximumRetryCount ?? 0 };
  }
  asUpdateError(() => verifyResources(next, { update: true }));
  return { next, warnings };
}

export interface UpdateDeps {
  runtime: { updateResources(id: string, resources: object): Promise<void> };
  specs: { updateResources(changes: HostConfig): Promise<object> };
  store: { saveRecord(c: LiveContainer): void };
}

/**
 * `docker update` of a container (under its lock): dockerd's rules, then a running (or paused)
 * task takes the request's values at once; otherwise the next start applies the stored ones.
 */
export async function updateContainer(deps: UpdateDeps, c: LiveContainer, changes: HostConfig): Promise<string[]> {
  const id = c.id;
  if (c.state.removalInProgress || c.state.dead) {
    throw new Conflict(`Cannot update container ${id}: container is marked for removal and cannot be "update"`);
  }
  const { next, warnings } = applyUpdate(id, c.record.hostConfig, changes);
  if (c.state.running && !c.state.restarting) {
    try {
      await deps.runtime.updateResources(id, await deps.specs.updateResources(changes));
    } catch (err) {
      if (err instanceof BerthError && !(err instanceof SystemError)) throw err;
      throw updateFailure(id, errorMessage(err));
    }
  }
  c.record.hostConfig = next;
  deps.store.saveRecord(c);
  c.restartManager();
  return warnings;
}
