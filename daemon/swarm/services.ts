// Services and tasks as the API serves them on a manager (docs/swarm.md, "API operations"): the
// API writes desired state only (a service and its name key in one transaction), the orchestrator
// (orchestrator-loop.ts, on the elected manager) makes the tasks. Errors carry dockerd's and
// swarmkit's texts. No HTTP here: the routes call these methods.

import { BerthError, Conflict, errorMessage, InvalidParameter, NotFound } from '../../lib/errors';
import type { ClusterKv, KvEntry, KvOp } from '../../store/cluster/kv';
import { generateName } from '../containers/names';
import { idOfKey, type ClusterKeys } from './keys';
import { interpolateServiceSpec } from './orchestrator/defaults';
import { applyServiceUpdate } from './orchestrator/service-update';
import { serviceStatus } from './orchestrator/service-status';
import { newId } from './orchestrator/task';
import type { Service, ServiceSpec, Task } from './orchestrator/types';
import { iso } from './orchestrator/types';
import { reconcile } from './orchestrator/reconcile';
import { prepareServiceSpec } from './orchestrator/validate';
import { parseTaskStatus, serviceView, storedService, storedTask, taskName, taskView, type StoredService } from './records';
import { errors, rpcText, type ApiNode } from './shapes';
import { sealData } from './seal';
import { checkServiceRefs } from './service-refs';
import { checkServiceSpecShape } from './spec-shape';
import { TASK_STATE_ORDER } from './task-states';

export interface ServicesDeps {
  kv: ClusterKv;
  /** The cluster's keys; throws dockerd's text when this node is in no swarm. */
  keys(): ClusterKeys;
  /** Throws dockerd's texts unless this node is a manager. */
  requireManager(): Promise<void>;
  /** The cluster key (registry credentials are sealed with it before they reach etcd). */
  clusterKey(): Buffer;
  /** Every node (for the task list's node filter, by name or ID prefix). */
  nodes(): Promise<ApiNode[]>;
  now?: () => number;
}

export interface ServiceListOptions {
  /** Whether to fill ServiceStatus (`?status=true`). */
  status: boolean;
  match(s: Service): boolean;
}

export interface TaskFilter {
  ids: string[];
  names: string[];
  /** Service IDs, names or ID prefixes (resolved as dockerd does: an unknown one is a 404). */
  services: string[];
  /** Node IDs, names or ID prefixes. */
  nodes: string[];
  desiredStates: string[];
  match(t: Task): boolean;
}

export interface UpdateOptions {
  version: number;
  rollback: boolean;
  /** `spec` (default) or `previous-spec`: whose registry credentials to keep when none are sent. */
  registryAuthFrom: string;
  /** X-Registry-Auth ('' for none). */
  registryAuth: string;
}

const TASK_STATES = new Set<string>(TASK_STATE_ORDER);

export const serviceErrors = {
  nameTaken: (name: string) =>
    new Conflict(rpcText('AlreadyExists', `name conflicts with an existing object: service ${name} already exists`)),
  notFound: (ref: string) => new NotFound(`service ${ref} not found`),
  ambiguous: (ref: string, n: number) => new InvalidParameter(`service ${ref} is ambiguous (${n} matches found)`),
  taskNotFound: (ref: string) => new NotFound(`task ${ref} not found`),
  taskAmbiguous: (ref: string, n: number) => new InvalidParameter(`task ${ref} is ambiguous (${n} matches found)`),
  badDesiredState: (s: string) => new InvalidParameter(`Invalid task desired state: ${s}`),
};

/**
 * The body's JSON types, prepareServiceSpec, and a dry run of the orchestrator over the result (one replica, one node):
 * a body whose fields have the wrong JSON types fails here with a 400, instead of in the
 * orchestrator on every pass.
 */
function prepare(body: ServiceSpec, randomName: () => string, now: number): ServiceSpec {
  checkServiceSpecShape(body);
  try {
    const spec = prepareServiceSpec(body, randomName);
    const dry = structuredClone(spec);
    if (dry.Mode?.Replicated !== undefined) dry.Mode.Replicated.Replicas = 1;
    interpolateServiceSpec(dry);
    reconcile({
      services: [{ ID: 'dry', Spec: dry }],
      tasks: [],
      nodes: [{ ID: 'n', Spec: { Availability: 'active', Role: 'manager' }, Status: { State: 'ready' } }],
      now,
    });
    return spec;
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw new InvalidParameter(`invalid service spec: ${errorMessage(err)}`);
  }
}

interface ServiceRow {
  entry: KvEntry;
  stored: StoredService;
  view: Service;
}

/** dockerd's lookup (daemon/cluster/helpers.go getService/getTask): full ID, then exact name, then ID prefix. */
function resolve<T>(
  items: T[],
  ref: string,
  idOf: (x: T) => string,
  nameOf: (x: T) => string,
  notFound: () => Error,
  ambiguous: (n: number) => Error,
): T {
  const exact = items.find((x) => idOf(x) === ref);
  if (exact) return exact;
  let found = items.filter((x) => nameOf(x) === ref);
  if (found.length === 0) found = items.filter((x) => idOf(x).startsWith(ref));
  if (found.length === 0) throw notFound();
  if (found.length > 1) throw ambiguous(found.length);
  return found[0];
}

export class ServicesApi {
  constructor(private readonly deps: ServicesDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  private async services(): Promise<ServiceRow[]> {
    const keys = this.deps.keys();
    const { entries } = await this.deps.kv.list(keys.servicesPrefix);
    const rows: ServiceRow[] = [];
    for (const entry of entries) {
      const stored = storedService(entry);
      if (stored) rows.push({ entry, stored, view: serviceView(entry, stored) });
    }
    return rows;
  }

  private async find(ref: string): Promise<ServiceRow> {
    return resolve(
      await this.services(),
      ref,
      (r) => r.view.ID ?? '',
      (r) => r.view.Spec?.Name ?? '',
      () => serviceErrors.notFound(ref),
      (n) => serviceErrors.ambiguous(ref, n),
    );
  }

  private sealAuth(serviceId: string, auth: string): string {
    return auth === '' ? '' : sealData(this.deps.clusterKey(), `${serviceId}/registry-auth`, Buffer.from(auth));
  }

  /** POST /services/create: the stored spec and its name key in one transaction. */
  async create(body: ServiceSpec, registryAuth: string): Promise<{ ID: string; Warnings: string[] | null }> {
    await this.deps.requireManager();
    const keys = this.deps.keys();
    const taken = new Set((await this.services()).map((r) => r.view.Spec?.Name ?? ''));
    const spec = prepare(body, () => generateName((n) => taken.has(n)), this.now());
    const refs = await checkServiceRefs(this.deps.kv, keys, spec);
    const name = spec.Name ?? '';
    const id = newId();
    const now = iso(this.now());
    const stored: StoredService = { ID: id, CreatedAt: now, UpdatedAt: now, Spec: spec };
    if (registryAuth !== '') stored.registryAuth = this.sealAuth(id, registryAuth);
    const r = await this.deps.kv.txn(
      [
        { key: keys.name('services', name), target: 'create', op: '==', revision: 0 },
        { key: keys.service(id), target: 'create', op: '==', revision: 0 },
        ...refs,
      ],
      [
        { op: 'put', key: keys.service(id), value: JSON.stringify(stored) },
        { op: 'put', key: keys.name('services', name), value: id },
      ],
    );
    if (!r.succeeded) {
      await checkServiceRefs(this.deps.kv, keys, spec); // a reference removed meanwhile
      throw serviceErrors.nameTaken(name);
    }
    return { ID: id, Warnings: null };
  }

  /** GET /services. */
  async list(opts: ServiceListOptions): Promise<Service[]> {
    await this.deps.requireManager();
    const out = (await this.services()).map((r) => r.view).filter((s) => opts.match(s));
    if (!opts.status || out.length === 0) return out;
    const tasks = await this.tasks();
    return out.map((s) => ({ ...s, ServiceStatus: serviceStatus(s, tasks) }));
  }

  /** GET /services/{id}: by ID, name or ID prefix; `insertDefaults` fills swarmkit's defaults in. */
  async inspect(ref: string, insertDefaults: boolean): Promise<Service> {
    await this.deps.requireManager();
    const s = (await this.find(ref)).view;
    if (!insertDefaults || s.Spec === undefined) return s;
    return { ...s, Spec: interpolateServiceSpec(s.Spec) };
  }

  /** POST /services/{id}/update: compare-and-swap on the version (the key's mod revision). */
  async update(ref: string, body: ServiceSpec, o: UpdateOptions): Promise<{ Warnings: string[] | null }> {
    await this.deps.requireManager();
    if (o.registryAuthFrom !== '' && o.registryAuthFrom !== 'spec' && o.registryAuthFrom !== 'previous-spec') {
      throw new InvalidParameter(`unsupported registryAuthFrom '${o.registryAuthFrom}'`);
    }
    const row = await this.find(ref);
    if (o.version !== row.entry.modRevision) throw errors.outOfSequence();
    const next = prepare(body, () => row.view.Spec?.Name ?? '', this.now());
    const updated = applyServiceUpdate(row.view, next, this.now(), o.rollback);
    const refs = updated.Spec === undefined ? [] : await checkServiceRefs(this.deps.kv, this.deps.keys(), updated.Spec);
    const cur = row.stored;
    const stored: StoredService = {
      ID: cur.ID,
      CreatedAt: cur.CreatedAt,
      UpdatedAt: iso(this.now()),
      Spec: updated.Spec,
      ...(updated.PreviousSpec !== undefined ? { PreviousSpec: updated.PreviousSpec } : {}),
      ...(updated.UpdateStatus !== undefined ? { UpdateStatus: updated.UpdateStatus } : {}),
    };
    if (o.rollback) {
      if (cur.previousRegistryAuth) stored.registryAuth = cur.previousRegistryAuth;
      if (cur.registryAuth) stored.previousRegistryAuth = cur.registryAuth;
    } else {
      const kept = o.registryAuthFrom === 'previous-spec' ? cur.previousRegistryAuth : cur.registryAuth;
      const auth = o.registryAuth !== '' ? this.sealAuth(cur.ID ?? '', o.registryAuth) : (kept ?? '');
      if (auth !== '') stored.registryAuth = auth;
      if (cur.registryAuth) stored.previousRegistryAuth = cur.registryAuth;
    }
    const r = await this.deps.kv.txn(
      [{ key: row.entry.key, target: 'mod', op: '==', revision: o.version }, ...refs],
      [{ op: 'put', key: row.entry.key, value: JSON.stringify(stored) }],
    );
    if (!r.succeeded) {
      if (updated.Spec !== undefined) await checkServiceRefs(this.deps.kv, this.deps.keys(), updated.Spec);
      throw errors.outOfSequence();
    }
    return { Warnings: null };
  }

  /** DELETE /services/{id}: the service and its name go; the orchestrator removes its tasks. */
  async remove(ref: string): Promise<void> {
    await this.deps.requireManager();
    const keys = this.deps.keys();
    const row = await this.find(ref);
    const ops: KvOp[] = [{ op: 'delete', key: row.entry.key }];
    const name = row.view.Spec?.Name ?? '';
    if (name !== '') ops.push({ op: 'delete', key: keys.name('services', name) });
    const r = await this.deps.kv.txn([{ key: row.entry.key, target: 'mod', op: '==', revision: row.entry.modRevision }], ops);
    if (!r.succeeded) throw serviceErrors.notFound(ref);
  }

  /** Every task, its status merged (P/task-status over P/tasks), read at one revision. */
  private async tasks(): Promise<Task[]> {
    const keys = this.deps.keys();
    const [{ entries }, { entries: statuses }] = await Promise.all([
      this.deps.kv.list(keys.tasksPrefix),
      this.deps.kv.list(keys.taskStatusPrefix),
    ]);
    const status = new Map(statuses.map((e) => [idOfKey(e.key), e.value]));
    const out: Task[] = [];
    for (const e of entries) {
      const t = storedTask(e);
      if (t) out.push(taskView(e, t, parseTaskStatus(status.get(t.ID ?? ''))));
    }
    return out;
  }

  /** GET /tasks. */
  async listTasks(f: TaskFilter): Promise<Task[]> {
    await this.deps.requireManager();
    for (const s of f.desiredStates) if (s !== '' && !TASK_STATES.has(s.toLowerCase())) throw serviceErrors.badDesiredState(s);
    const services = await this.services();
    const names = new Map(services.map((r) => [r.view.ID ?? '', r.view.Spec?.Name ?? '']));
    // dockerd resolves service and node filters to IDs first (an unknown one is its lookup's error)
    const serviceIds = new Set<string>();
    for (const ref of f.services) serviceIds.add((await this.find(ref)).view.ID ?? '');
    const nodeIds = new Set<string>();
    if (f.nodes.length > 0) {
      const nodes = await this.deps.nodes();
      for (const ref of f.nodes) {
        const n = resolve(
          nodes,
          ref,
          (x) => x.ID ?? '',
          (x) => x.Spec?.Name || x.Description?.Hostname || '',
          () => errors.nodeNotFound(ref),
          (k) => errors.nodeAmbiguous(ref, k),
        );
        nodeIds.add(n.ID ?? '');
      }
    }
    const desired = new Set(f.desiredStates.filter((s) => s !== '').map((s) => s.toLowerCase()));
    return (await this.tasks()).filter(
      (t) =>
        (f.ids.length === 0 || f.ids.some((p) => (t.ID ?? '').startsWith(p))) &&
        (f.names.length === 0 || f.names.some((p) => taskName(t, names.get(t.ServiceID ?? '') ?? '').startsWith(p))) &&
        (serviceIds.size === 0 || serviceIds.has(t.ServiceID ?? '')) &&
        (nodeIds.size === 0 || nodeIds.has(t.NodeID ?? '')) &&
        (desired.size === 0 || desired.has(t.DesiredState ?? '')) &&
        f.match(t),
    );
  }

  /** GET /tasks/{id}: by ID, name or ID prefix. */
  async inspectTask(ref: string): Promise<Task> {
    await this.deps.requireManager();
    const services = await this.services();
    const names = new Map(services.map((r) => [r.view.ID ?? '', r.view.Spec?.Name ?? '']));
    return resolve(
      await this.tasks(),
      ref,
      (t) => t.ID ?? '',
      (t) => taskName(t, names.get(t.ServiceID ?? '') ?? ''),
      () => serviceErrors.taskNotFound(ref),
      (n) => serviceErrors.taskAmbiguous(ref, n),
    );
  }
}
