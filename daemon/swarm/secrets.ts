// Secrets and configs on etcd (docs/swarm.md, "Secrets and configs as stored"): create (object and
// name key in one transaction), list, inspect by ID, name or ID prefix (dockerd's lookup order),
// labels-only update as a compare-and-swap on the key's revision, remove (refused while a service
// references the object). The payload is sealed with the cluster key before it reaches etcd;
// a secret's is never answered, a config's is. No HTTP here: the routes call these methods.

import { InvalidParameter } from '../../lib/errors';
import type { ClusterKv, KvEntry } from '../../store/cluster/kv';
import type { ClusterKeys } from './keys';
import { newObjectId } from './local-state';
import { openData, sealData } from './seal';
import {
  alreadyExists,
  checkLabelsOnlyUpdate,
  configView,
  inUse,
  notFound,
  secretView,
  validateConfigSpec,
  validateSecretSpec,
  type Config,
  type ConfigSpec,
  type ObjectKind,
  type Secret,
  type SecretSpec,
  type StoredObject,
} from './secret-config';
import { errors } from './shapes';

/** What the objects need of the swarm: the store, the cluster's keys and key, the manager check. */
export interface SwarmObjectsDeps {
  kv: ClusterKv;
  /** The cluster's key names and its 256-bit key (throws unless in a cluster). */
  cluster(): { keys: ClusterKeys; clusterKey: Buffer };
  /** Throws dockerd's texts unless this node is a manager. */
  requireManager(): Promise<void>;
  now(): string;
}

interface KindOps<V, S> {
  kind: ObjectKind;
  prefix(k: ClusterKeys): string;
  key(k: ClusterKeys, id: string): string;
  names: 'secrets' | 'configs';
  validate(spec: S | undefined | null): Buffer;
  view(o: StoredObject, open: () => Buffer): V;
  /** The IDs a service spec references (its task template's container spec). */
  references(service: ServiceLike): string[];
}

/** The little of a stored service these need: its name and its container spec's references. */
interface ServiceLike {
  Spec?: {
    Name?: string;
    TaskTemplate?: { ContainerSpec?: { Secrets?: Array<{ SecretID?: string }> | null; Configs?: Array<{ ConfigID?: string }> | null } };
  };
}

const SECRET_OPS: KindOps<Secret, SecretSpec> = {
  kind: 'secret',
  prefix: (k) => k.secretsPrefix,
  key: (k, id) => k.secret(id),
  names: 'secrets',
  validate: validateSecretSpec,
  view: (o) => secretView(o),
  references: (s) => (s.Spec?.TaskTemplate?.ContainerSpec?.Secrets ?? []).map((r) => r.SecretID ?? ''),
};

const CONFIG_OPS: KindOps<Config, ConfigSpec> = {
  kind: 'config',
  prefix: (k) => k.configsPrefix,
  key: (k, id) => k.config(id),
  names: 'configs',
  validate: validateConfigSpec,
  view: (o, open) => configView(o, open()),
  references: (s) => (s.Spec?.TaskTemplate?.ContainerSpec?.Configs ?? []).map((r) => r.ConfigID ?? ''),
};

/** A stored object read back, its Version the key's mod revision. */
function parse(e: KvEntry): StoredObject {
  const o = JSON.parse(e.value) as StoredObject;
  return { ...o, Version: { Index: e.modRevision } };
}

/** One kind (secrets or configs) over etcd. */
export class SwarmObjectStore<V, S extends SecretSpec | ConfigSpec> {
  constructor(
    private readonly deps: SwarmObjectsDeps,
    private readonly ops: KindOps<V, S>,
  ) {}

  private opener(o: StoredObject, clusterKey: Buffer): () => Buffer {
    return () => openData(clusterKey, o.ID, o.Sealed);
  }

  async create(spec: S | undefined | null): Promise<string> {
    await this.deps.requireManager();
    const data = this.ops.validate(spec);
    const s = spec as S;
    const { keys, clusterKey } = this.deps.cluster();
    const id = newObjectId();
    const now = this.deps.now();
    const stored: StoredObject = {
      ID: id,
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: { Name: s.Name, Labels: { ...(s.Labels ?? {}) } },
      Sealed: sealData(clusterKey, id, data),
    };
    const nameKey = keys.name(this.ops.names, s.Name ?? '');
    const r = await this.deps.kv.txn(
      [{ key: nameKey, target: 'create', op: '==', revision: 0 }],
      [
        { op: 'put', key: this.ops.key(keys, id), value: JSON.stringify(stored) },
        { op: 'put', key: nameKey, value: id },
      ],
    );
    if (!r.succeeded) throw alreadyExists(this.ops.kind, s.Name ?? '');
    return id;
  }

  private async all(): Promise<{ objects: StoredObject[]; keys: ClusterKeys; clusterKey: Buffer }> {
    const { keys, clusterKey } = this.deps.cluster();
    const { entries } = await this.deps.kv.list(this.ops.prefix(keys));
    return { objects: entries.map(parse), keys, clusterKey };
  }

  async list(match: (o: { ID: string; Name: string; Labels: Record<string, string> }) => boolean): Promise<V[]> {
    await this.deps.requireManager();
    const { objects, clusterKey } = await this.all();
    return objects
      .filter((o) => match({ ID: o.ID, Name: o.Spec.Name ?? '', Labels: o.Spec.Labels ?? {} }))
      .map((o) => this.ops.view(o, this.opener(o, clusterKey)));
  }

  /** dockerd's getSecret/getConfig: full ID, then exact name, then ID prefix (ambiguous: 400). */
  private async resolve(ref: string): Promise<{ object: StoredObject; keys: ClusterKeys; clusterKey: Buffer }> {
    const { keys, clusterKey } = this.deps.cluster();
    if (ref !== '' && !ref.includes('/')) {
      const e = await this.deps.kv.get(this.ops.key(keys, ref));
      if (e) return { object: parse(e), keys, clusterKey };
    }
    const { objects } = await this.all();
    for (const pick of [(o: StoredObject) => o.Spec.Name === ref, (o: StoredObject) => ref !== '' && o.ID.startsWith(ref)]) {
      const found = objects.filter(pick);
      if (found.length > 1) throw new InvalidParameter(`${this.ops.kind} ${ref} is ambiguous (${found.length} matches found)`);
      if (found.length === 1) return { object: found[0], keys, clusterKey };
    }
    throw notFound(this.ops.kind, ref);
  }

  async inspect(ref: string): Promise<V> {
    await this.deps.requireManager();
    const { object, clusterKey } = await this.resolve(ref);
    return this.ops.view(object, this.opener(object, clusterKey));
  }

  /** Labels only; `version` must be the object's current Version.Index. */
  async update(ref: string, version: number, spec: S | undefined | null): Promise<void> {
    await this.deps.requireManager();
    const { object, keys, clusterKey } = await this.resolve(ref);
    const nextSpec = checkLabelsOnlyUpdate(object, openData(clusterKey, object.ID, object.Sealed), spec);
    if (version !== object.Version?.Index) throw errors.outOfSequence();
    // The stored Version is not maintained: the key's mod revision is the version (parse()).
    const next: StoredObject = { ...object, Version: { Index: 0 }, Spec: nextSpec, UpdatedAt: this.deps.now() };
    const key = this.ops.key(keys, object.ID);
    const r = await this.deps.kv.txn(
      [{ key, target: 'mod', op: '==', revision: version }],
      [{ op: 'put', key, value: JSON.stringify(next) }],
    );
    if (!r.succeeded) throw errors.outOfSequence();
  }

  /** Refused while a service references it (swarmkit's text), else the object and its name key go. */
  async remove(ref: string): Promise<void> {
    await this.deps.requireManager();
    const { object, keys } = await this.resolve(ref);
    const { entries } = await this.deps.kv.list(keys.servicesPrefix);
    const users = entries
      .map((e) => JSON.parse(e.value) as ServiceLike)
      .filter((s) => this.ops.references(s).includes(object.ID))
      .map((s) => s.Spec?.Name ?? '');
    if (users.length > 0) throw inUse(this.ops.kind, object.Spec.Name ?? '', users);
    const key = this.ops.key(keys, object.ID);
    const r = await this.deps.kv.txn(
      [{ key, target: 'mod', op: '==', revision: object.Version?.Index ?? 0 }],
      [
        { op: 'delete', key },
        { op: 'delete', key: keys.name(this.ops.names, object.Spec.Name ?? '') },
      ],
    );
    if (!r.succeeded) throw notFound(this.ops.kind, ref);
  }
}

export type SecretStore = SwarmObjectStore<Secret, SecretSpec>;
export type ConfigStore = SwarmObjectStore<Config, ConfigSpec>;

export function secretStore(deps: SwarmObjectsDeps): SecretStore {
  return new SwarmObjectStore(deps, SECRET_OPS);
}

export function configStore(deps: SwarmObjectsDeps): ConfigStore {
  return new SwarmObjectStore(deps, CONFIG_OPS);
}
