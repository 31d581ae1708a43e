// What `P/services/<id>`, `P/tasks/<id>` and `P/task-status/<id>` hold, and the API objects read
// from them (docs/swarm.md, "Keys"): Version.Index is the key's mod revision; a service's Endpoint
// is derived from its spec (no virtual IPs: `vip` resolves as DNSRR, ingress ports are published
// in host mode, docs/divergence.md); a task's Status is the node's (P/task-status) once written,
// the orchestrator's before.

import type { KvEntry } from '../../store/cluster/kv';
import type { Service, ServiceSpec, Task, TaskStatus } from './orchestrator/types';

/** A stored service: the API's Service without Version, plus Berth's own fields (never answered). */
export interface StoredService extends Omit<Service, 'Version' | 'Endpoint' | 'ServiceStatus'> {
  /** The X-Registry-Auth of the current spec, sealed with the cluster key ('' for none). */
  registryAuth?: string;
  /** The one of the previous spec (rollback and registryAuthFrom=previous-spec). */
  previousRegistryAuth?: string;
}

/** A stored task: the API's Task without Version. */
export type StoredTask = Omit<Task, 'Version'>;

/** Parses a stored JSON object; a value that is not one (a foreign writer) is null. */
export function parseObject<T>(value: string): T | null {
  try {
    const v: unknown = JSON.parse(value);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as T) : null;
  } catch {
    return null;
  }
}

export function storedService(entry: KvEntry): StoredService | null {
  const s = parseObject<StoredService>(entry.value);
  return s && typeof s.ID === 'string' ? s : null;
}

/** The Endpoint dockerd shows for the spec: the spec, its published ports as given, no virtual IPs. */
export function endpointOf(spec: ServiceSpec | undefined): Service['Endpoint'] {
  const ep = spec?.EndpointSpec;
  const out: NonNullable<Service['Endpoint']> = { Spec: ep ? structuredClone(ep) : {} };
  const ports = ep?.Ports ?? [];
  if (ports.length > 0) out.Ports = structuredClone(ports);
  return out;
}

/** The API's Service from its key. */
export function serviceView(entry: KvEntry, s: StoredService): Service {
  const { registryAuth: _a, previousRegistryAuth: _p, ...rest } = s;
  return { ...rest, ID: s.ID, Version: { Index: entry.modRevision }, Endpoint: endpointOf(s.Spec) };
}

export function storedTask(entry: KvEntry): StoredTask | null {
  const t = parseObject<StoredTask>(entry.value);
  return t && typeof t.ID === 'string' ? t : null;
}

/** The node's status record (`P/task-status/<id>`): a TaskStatus. */
export function parseTaskStatus(value: string | undefined): TaskStatus | null {
  if (value === undefined) return null;
  const s = parseObject<TaskStatus>(value);
  return s && typeof s.State === 'string' ? s : null;
}

/** The API's Task: the stored task, its Version, and the node's status over the orchestrator's. */
export function taskView(entry: KvEntry, t: StoredTask, nodeStatus: TaskStatus | null): Task {
  return { ...t, Version: { Index: entry.modRevision }, ...(nodeStatus ? { Status: nodeStatus } : {}) };
}

/** swarmkit's naming.Task: `<service>.<slot>.<id>`, or `<service>.<nodeID>.<id>` for a global task. */
export function taskName(t: Task, serviceName: string): string {
  const slot = t.Slot !== undefined && t.Slot !== 0 ? String(t.Slot) : (t.NodeID ?? '');
  return `${serviceName}.${slot}.${t.ID ?? ''}`;
}
