// The containers in memory: loaded once from SQLite at start and written through on every
// change, with indexes by ID (and ID prefix), name, image, volume and network. Reads never parse
// JSON, and "who uses image/volume/network X" is a lookup. store/ stays the only place SQL lives.
import type { ContainerRepo } from '../../store/container-repo';
import { InvalidParameter, NotFound } from '../../lib/errors';
import { exactParse, exactStringify } from '../../lib/int64';
import type { ContainerUsage } from '../container-usage';
import { LiveContainer } from './live-container';
import type { ContainerRecord, ContainerState } from './model';

/** Index keys a record puts a container under. */
interface Keys {
  images: string[];
  volumes: string[];
  networks: string[];
}

function keysOf(r: ContainerRecord): Keys {
  const mounts = r.mounts ?? [];
  return {
    images: [r.imageId, ...mounts.filter((m) => m.type === 'image' && m.imageId).map((m) => m.imageId ?? '')],
    volumes: mounts.filter((m) => m.type === 'volume').map((m) => m.source),
    networks: (r.networks ?? []).map((e) => e.networkId),
  };
}

class MultiIndex {
  private readonly map = new Map<string, Set<string>>();

  add(keys: string[], id: string): void {
    for (const k of keys) {
      let set = this.map.get(k);
      if (!set) this.map.set(k, (set = new Set()));
      set.add(id);
    }
  }

  remove(keys: string[], id: string): void {
    for (const k of keys) {
      const set = this.map.get(k);
      set?.delete(id);
      if (set?.size === 0) this.map.delete(k);
    }
  }

  get(key: string): string[] {
    return [...(this.map.get(key) ?? [])];
  }
}

export class ContainerStore implements ContainerUsage {
  /** In creation order (the repository's sequence). */
  private readonly byId = new Map<string, LiveContainer>();
  private readonly byName = new Map<string, string>();
  /** All IDs, sorted, for prefix lookups by binary search. */
  private sortedIds: string[] = [];
  private readonly keys = new Map<string, Keys>();
  private readonly images = new MultiIndex();
  private readonly volumes = new MultiIndex();
  private readonly networks = new MultiIndex();
  /** Containerd deletions still running for containers already removed (delete's `containerdAfter`). */
  private readonly containerdDeletes = new Set<Promise<void>>();

  constructor(private readonly repo: ContainerRepo) {
    for (const row of repo.list()) {
      this.index(new LiveContainer(exactParse(row.recordJson) as ContainerRecord, JSON.parse(row.stateJson) as ContainerState));
    }
  }

  // ------------------------------------------------------------------ lookups

  /** By full ID, name (with or without the slash), or unique ID prefix, as dockerd looks up. */
  get(input: string): LiveContainer {
    if (input === '') throw new NotFound('No such container: ');
    const byId = this.byId.get(input);
    if (byId) return byId;
    const named = this.byName.get(input.startsWith('/') ? input.slice(1) : input);
    if (named !== undefined) return this.byId.get(named) as LiveContainer;
    if (/^[a-f0-9]+$/.test(input)) {
      const ids = this.idsWithPrefix(input, 2);
      if (ids.length > 1) throw new InvalidParameter(`multiple IDs found with provided prefix: ${input}`);
      if (ids.length === 1) return this.byId.get(ids[0]) as LiveContainer;
    }
    throw new NotFound(`No such container: ${input}`);
  }

  /** By anything get() takes; undefined instead of NotFound (or an ambiguous prefix). */
  tryGet(input: string): LiveContainer | undefined {
    try {
      return this.get(input);
    } catch {
      return undefined;
    }
  }

  tryGetById(id: string): LiveContainer | undefined {
    return this.byId.get(id);
  }

  nameTaken(name: string): boolean {
    return this.byName.has(name);
  }

  /** Every container, in creation order. */
  all(): LiveContainer[] {
    return [...this.byId.values()];
  }

  /** `docker info`'s counts. */
  counts(): { running: number; paused: number; stopped: number } {
    const out = { running: 0, paused: 0, stopped: 0 };
    for (const c of this.byId.values()) {
      if (c.state.paused) out.paused++;
      else if (c.state.running) out.running++;
      else out.stopped++;
    }
    return out;
  }

  // ------------------------------------------------------------------ ContainerUsage

  containersUsingImage(imageId: string): { id: string; running: boolean }[] {
    return this.images.get(imageId).map((id) => ({ id, running: this.byId.get(id)?.state.running ?? false }));
  }

  /** The containerd side of every removal so far is deleted (or failed), and that is written. */
  async removalsSettled(): Promise<void> {
    await Promise.all(this.containerdDeletes);
    this.repo.flushLeftovers();
  }

  volumeUsers(volumeName: string): string[] {
    return this.volumes.get(volumeName);
  }

  networkUsers(networkId: string): string[] {
    return this.networks.get(networkId);
  }

  containerName(id: string): string | undefined {
    return this.byId.get(id)?.record.name;
  }

  // ------------------------------------------------------------------ writes (through to SQLite)

  /** Adds a new container; the repository throws NameTakenError when its name is in use. */
  insert(record: ContainerRecord, state: ContainerState): LiveContainer {
    this.repo.insert({
      id: record.id,
      name: record.name,
      imageId: record.imageId,
      created: record.created,
      recordJson: exactStringify(record),
      stateJson: JSON.stringify(state),
    });
    const c = new LiveContainer(record, state);
    this.index(c);
    return c;
  }

  saveState(c: LiveContainer): void {
    this.repo.setState(c.record.id, JSON.stringify(c.state));
  }

  /** Writes the record and re-indexes it (mounts and networks may have changed). */
  saveRecord(c: LiveContainer): void {
    this.repo.setRecord(c.record.id, exactStringify(c.record));
    this.reindex(c);
  }

  /** Renames; the repository throws NameTakenError when the new name is in use. */
  rename(c: LiveContainer, name: string): void {
    const old = c.record.name;
    const record = { ...c.record, name };
    this.repo.rename(c.record.id, name, exactStringify(record));
    c.record.name = name;
    if (this.byName.get(old) === c.record.id) this.byName.delete(old);
    this.byName.set(name, c.record.id);
  }

  /** Removed containers whose containerd side a stop or crash cut short (see `delete`). */
  leftovers(): string[] {
    return this.repo.leftovers();
  }

  leftoverDeleted(id: string): void {
    this.repo.leftoverDeleted(id);
  }

  /**
   * containerdAfter: the deletion of the container's containerd side, still running (never
   * rejects; true once deleted). The container is gone from every lookup at once; a row in the
   * repository keeps the pending deletion across a crash, until that deletion succeeds.
   */
  delete(id: string, containerdAfter?: Promise<boolean>): void {
    this.repo.delete(id, containerdAfter !== undefined);
    if (containerdAfter) {
      const job: Promise<void> = containerdAfter
        .then((deleted) => {
          if (deleted) this.repo.leftoverDeleted(id);
        })
        .catch(() => undefined) // the row stays: the next start deletes it
        .finally(() => this.containerdDeletes.delete(job));
      this.containerdDeletes.add(job);
    }
    const c = this.byId.get(id);
    if (!c) return;
    this.byId.delete(id);
    if (this.byName.get(c.record.name) === id) this.byName.delete(c.record.name);
    const i = this.sortedPos(id);
    if (this.sortedIds[i] === id) this.sortedIds.splice(i, 1);
    this.unindexUsage(id);
  }

  // ------------------------------------------------------------------ indexes

  private index(c: LiveContainer): void {
    const id = c.record.id;
    this.byId.set(id, c);
    this.byName.set(c.record.name, id);
    this.sortedIds.splice(this.sortedPos(id), 0, id);
    this.reindex(c);
  }

  private reindex(c: LiveContainer): void {
    const id = c.record.id;
    this.unindexUsage(id);
    const k = keysOf(c.record);
    this.keys.set(id, k);
    this.images.add(k.images, id);
    this.volumes.add(k.volumes, id);
    this.networks.add(k.networks, id);
  }

  private unindexUsage(id: string): void {
    const k = this.keys.get(id);
    if (!k) return;
    this.keys.delete(id);
    this.images.remove(k.images, id);
    this.volumes.remove(k.volumes, id);
    this.networks.remove(k.networks, id);
  }

  /** Where `id` is or would go in sortedIds. */
  private sortedPos(id: string): number {
    let lo = 0;
    let hi = this.sortedIds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sortedIds[mid] < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private idsWithPrefix(prefix: string, limit: number): string[] {
    const out: string[] = [];
    for (let i = this.sortedPos(prefix); i < this.sortedIds.length && out.length < limit && this.sortedIds[i].startsWith(prefix); i++) {
      out.push(this.sortedIds[i]);
    }
    return out;
  }
}
