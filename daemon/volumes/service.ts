// The volumes area: the local driver (a directory under <data-root>/volumes/<name>/_data, or a
// filesystem mounted there from the `type`/`o`/`device` options, as dockerd's local driver does),
// metadata in SQLite, and the in-use checks that protect a volume's data. Data is deleted only
// by remove and prune.
import type { ContainerUsage } from '../container-usage';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { VolumeRepo, VolumeRow } from '../../store/volume-repo';
import { Conflict, InvalidParameter, NotFound, SystemError } from '../../lib/errors';
import { goQuote } from '../../lib/go-quote';
import { formatRFC3339 } from '../../lib/time';
import type { EventBus } from '../events';

const run = promisify(execFile);

/** The label moby (23+) puts on anonymous volumes; prune without `all` removes only these. */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const VALID_OPTS = new Set(['type', 'o', 'device', 'size']);

export interface Volume {
  CreatedAt: string;
  Driver: string;
  Labels: Record<string, string> | null;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string> | null;
  Scope: 'local';
  UsageData?: { Size: number; RefCount: number };
}

export interface VolumeCreateOptions {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

export interface VolumeListFilter {
  dangling?: boolean;
  drivers: string[];
  /** moby's filters.Match on the name: exact, or a regular expression found in it. */
  name: (name: string) => boolean;
  labels: (labels: Record<string, string>) => boolean;
}

/** moby's local driver name check, with its error texts. */
export function validateVolumeName(name: string): void {
  if (name.length === 1)
    throw new InvalidParameter(`create ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!NAME_RE.test(name)) {
    throw new InvalidParameter(
      `create ${name}: ${goQuote(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  } // The name is a directory name: beyond NAME_MAX the mkdir could only fail (dockerd: a 500).
  if (Buffer.byteLength(name) > 255)
    throw new InvalidParameter(`create ${name.slice(0, 64)}…: volume name is too long, at most 255 characters`);
}

export class VolumeService {
  private readonly root: string;

  constructor(
    private readonly deps: {
      repo: VolumeRepo;
      events: EventBus;
      logger: Logger;
      dataRoot: string;
      /** Who uses which volume (the container store answers): `volume rm` and prune refuse what is in use. */
      usage: Pick<ContainerUsage, 'volumeUsers'>;
    },
  ) {
    this.root = path.join(deps.dataRoot, 'volumes');
    fs.mkdirSync(this.root, { recursive: true, mode: 0o701 });
  }

  private dir(name: string): string {
    return path.join(this.root, name);
  }

  mountpoint(name: string): string {
    return path.join(this.dir(name), '_data');
  }

  private view(row: VolumeRow): Volume {
    return {
      CreatedAt: row.created,
      Driver: row.driver,
      Labels: Object.keys(row.labels).length > 0 || row.anonymous ? row.labels : null,
      Mountpoint: this.mountpoint(row.name),
      Name: row.name,
      Options: Object.keys(row.options).length > 0 ? row.options : null,
      Scope: 'local',
    };
  }

  /** Creates a volume, or returns the existing one of that name (as dockerd does). */
  create(opts: VolumeCreateOptions, anonymous = false): Volume {
    const driver = opts.Driver || 'local';
    if (driver !== 'local') throw new NotFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    const name = opts.Name || randomBytes(32).toString('hex');
    const isAnon = anonymous || !opts.Name;
    validateVolumeName(name);
    const options = { ...(opts.DriverOpts ?? {}) };
    for (const k of Object.keys(options)) {
      if (!VALID_OPTS.has(k)) throw new InvalidParameter(`create ${name}: invalid option: ${goQuote(k)}`);
    }
    if (options.size !== undefined) throw new InvalidParameter(`create ${name}: quota size requested but no quota support`);
    if ((options.type || options.device) && !(options.type && options.device)) {
      throw new InvalidParameter(`create ${name}: missing required option: "${options.type ? 'device' : 'type'}"`);
    }
    const labels = { ...(opts.Labels ?? {}) };
    if (isAnon) labels[ANONYMOUS_LABEL] = '';
    const existing = this.deps.repo.get(name);
    if (existing) return this.view(existing);
    fs.mkdirSync(this.mountpoint(name), { recursive: true, mode: 0o755 });
    const { row, created } = this.deps.repo.insertIfAbsent({
      name,
      driver,
      created: formatRFC3339(new Date()),
      labels,
      options,
      anonymous: isAnon,
    });
    if (created) this.deps.events.publish('volume', 'create', name, { driver });
    return this.view(row);
  }

  /** The volume, or 404 `get <name>: no such volume`. */
  inspect(name: string): Volume {
    return this.view(this.row(name));
  }

  private row(name: string): VolumeRow {
    const row = name === '' ? undefined : this.deps.repo.get(name);
    if (!row) throw new NotFound(`get ${name}: no such volume`);
    return row;
  }

  exists(name: string): boolean {
    return this.deps.repo.get(name) !== undefined;
  }

  isAnonymous(name: string): boolean {
    return this.deps.repo.get(name)?.anonymous ?? false;
  }

  list(filter: VolumeListFilter): Volume[] {
    return this.deps.repo
      .list()
      .filter((r) => {
        if (filter.dangling !== undefined && (this.deps.usage.volumeUsers(r.name).length === 0) !== filter.dangling) return false;
        if (filter.drivers.length > 0 && !filter.drivers.includes(r.driver)) return false;
        if (!filter.name(r.name)) return false;
        return filter.labels(r.labels);
      })
      .map((r) => this.view(r));
  }

  async remove(name: string, force: boolean): Promise<void> {
    const row = this.deps.repo.get(name);
    if (!row) {
      if (force) return;
      throw new NotFound(`get ${name}: no such volume`);
    }
    const users = this.deps.usage.volumeUsers(name);
    if (users.length > 0) throw new Conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    await this.unmount(name);
    fs.rmSync(this.dir(name), { recursive: true, force: true });
    this.deps.repo.delete(name);
    this.deps.events.publish('volume', 'destroy', name, { driver: row.driver });
  }

  /** Removes unused volumes: anonymous ones unless `all`; `labels` narrows further. */
  async prune(all: boolean, labels: (l: Record<string, string>) => boolean): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    for (const r of this.deps.repo.list()) {
      if (!all && !r.anonymous) continue;
      if (!labels(r.labels) || this.deps.usage.volumeUsers(r.name).length > 0) continue;
      const size = Object.keys(r.options).length > 0 ? 0 : await diskUsage(this.mountpoint(r.name));
      try {
        await this.remove(r.name, false);
      } catch (err) {
        this.deps.logger.warn({ err, volume: r.name }, 'prune: remove failed');
        continue;
      }
      deleted.push(r.name);
      reclaimed += size;
    }
    this.deps.events.publish('volume', 'prune', '', { reclaimed: String(reclaimed) });
    return { VolumesDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  /** Volumes with their usage (for `system df`). */
  async usage(): Promise<Volume[]> {
    const out: Volume[] = [];
    for (const r of this.deps.repo.list()) {
      const size = Object.keys(r.options).length > 0 ? -1 : await diskUsage(this.mountpoint(r.name));
      out.push({ ...this.view(r), UsageData: { Size: size, RefCount: this.deps.usage.volumeUsers(r.name).length } });
    }
    return out;
  }

  /**
   * Makes the volume's data directory ready for a container and returns it: a volume with driver
   * options gets its filesystem mounted there (once; it stays mounted until the volume is removed).
   */
  async prepare(name: string): Promise<{ path: string; mounted: boolean }> {
    const row = this.row(name);
    const dest = this.mountpoint(name);
    fs.mkdirSync(dest, { recursive: true });
    const o = row.options;
    if (!o.type) return { path: dest, mounted: false };
    if (!(await isMountPoint(dest))) {
      const args = ['-t', o.type];
      if (o.o) args.push('-o', o.o);
      args.push(o.device ?? '', dest);
      try {
        await run('mount', args);
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? '';
        throw new SystemError(
          `error while mounting volume '${dest}': failed to mount local volume: mount ${o.device}:${dest}, data: ${o.o ?? ''}: ${stderr.trim()}`,
        );
      }
      return { path: dest, mounted: true };
    }
    return { path: dest, mounted: false };
  }

  private async unmount(name: string): Promise<void> {
    const dest = this.mountpoint(name);
    if (await isMountPoint(dest)) await run('umount', [dest]).catch(() => run('umount', ['-l', dest]));
  }

  /** Unmounts every volume mounted from driver options (daemon shutdown). */
  async close(): Promise<void> {
    for (const r of this.deps.repo.list()) {
      if (r.options.type) await this.unmount(r.name).catch(() => undefined);
    }
  }
}

async function isMountPoint(p: string): Promise<boolean> {
  const info = await fs.promises.readFile('/proc/self/mountinfo', 'utf8');
  const real = await fs.promises.realpath(p).catch(() => p);
  return info.split('\n').some((line) => line.split(' ')[4] === real);
}

/** Bytes used under `dir` (du's apparent sizes of regular files, each inode counted once). */
export async function diskUsage(dir: string): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const st = await fs.promises.lstat(p).catch(() => undefined);
        if (!st) continue;
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
        total += st.size;
      }
    }
  };
  await walk(dir);
  return total;
}
