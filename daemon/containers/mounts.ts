// A container's storage: Binds strings, HostConfig.Mounts, VolumesFrom and the image's (and
// Config's) Volumes turned into one typed mount plan at create (dockerd's registerMountPoints),
// and that plan turned into OCI mounts at each start, with the copy-up of image content into new
// empty volumes, and into the MountPoint views of inspect and ps.
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { posix } from 'node:path';
import type { OciMount } from '../../runtime/oci-types';
import { bindFd, mountReadOnlyLayers, releaseTempMountPoint, tempMountPoint } from '../../runtime/mount';
import { copyTreeAt, fdPath, O_PATH } from '../../runtime/safe-copy';
import { openBeneath, openInRoot, openRoot } from '../../runtime/safe-fs';
import { tmpfsMount } from '../oci/spec';
import { InvalidParameter, NotFound } from '../../lib/errors';
import type { HostConfig, Mount, MountPoint } from './api-types';

export type PlannedMountType = 'bind' | 'volume' | 'tmpfs' | 'image';

/** One entry of a container's mount plan, as persisted on its record. */
export interface PlannedMount {
  type: PlannedMountType;
  destination: string;
  /** Host path (bind), volume name (volume; '' until an anonymous one is created), image reference (image). */
  source: string;
  rw: boolean;
  /** The Mode inspect shows (the Binds mode string, "z" for named volumes, "" otherwise). */
  mode: string;
  /** The bind propagation ("" for non-binds). */
  propagation: string;
  nonRecursive?: boolean;
  /** Fill a new empty volume from the image content at its destination. */
  copyData?: boolean;
  subpath?: string;
  /** tmpfs mount data (size=…,mode=…, extra options). */
  tmpfsData?: string;
  /** Create a missing bind source at start (Binds do; Mounts only with CreateMountpoint). */
  createSource?: boolean;
  /** Image mounts: the image's ID and top layer chain, resolved at create. */
  imageId?: string;
  imageChain?: string;
  /** Volume labels / driver options asked for by a Mounts entry (used when it is created). */
  volumeLabels?: Record<string, string>;
  volumeDriverOpts?: Record<string, string>;
}

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);
const DEFAULT_PROPAGATION = 'rprivate';

/** filepath.Clean for absolute paths. */
const cleanPath = (p: string): string => {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
};

const specError = (raw: string): InvalidParameter => new InvalidParameter(`invalid volume specification: '${raw}'`);
const mountConfigError = (type: string, msg: string): InvalidParameter =>
  new InvalidParameter(`invalid mount config for type "${type}": ${msg}`);

function checkTarget(type: string, target: string): string {
  if (target === '') throw mountConfigError(type, 'field Target must not be empty');
  if (!posix.isAbsolute(target)) throw mountConfigError(type, `invalid mount path: '${target}' mount path must be absolute`);
  const clean = posix.normalize(target);
  if (clean === '/') throw mountConfigError(type, "invalid specification: destination can't be '/'");
  return clean.length > 1 ? clean.replace(/\/+$/, '') : clean;
}

/** Parses the mode part of a Binds entry (`ro,z,rshared,nocopy`). */
function parseBindMode(raw: string, mode: string, isVolume: boolean): { rw: boolean; propagation: string; copyData: boolean } {
  let rw = true;
  let propagation = '';
  let copyData = true;
  let rwSeen = 0;
  let labelSeen = 0;
  for (const m of mode.split(',')) {
    if (m === 'ro' || m === 'rw') {
      rw = m === 'rw';
      rwSeen++;
    } else if (m === 'z' || m === 'Z') labelSeen++;
    else if (PROPAGATIONS.has(m)) {
      if (propagation) throw new InvalidParameter(`invalid mode: ${mode}`);
      propagation = m;
    } else if (m === 'nocopy') {
      if (!isVolume) throw new InvalidParameter(`invalid mode: ${mode}`);
      copyData = false;
    } else throw new InvalidParameter(`invalid mode: ${mode}`);
  }
  if (rwSeen > 1 || labelSeen > 1) throw new InvalidParameter(`invalid mode: ${mode}`);
  if (propagation && isVolume) throw specError(raw);
  return { rw, propagation, copyData };
}

/** One `Binds` string: `name:/dst[:mode]`, `/host:/dst[:mode]`, or `/dst` (an anonymous volume). */
export function parseBind(raw: string): PlannedMount {
  const parts = raw.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw specError(raw);
  if (parts.length === 1) {
    return {
      type: 'volume',
      destination: checkTarget('volume', parts[0]),
      source: '',
      rw: true,
      mode: '',
      propagation: '',
      copyData: true,
    };
  }
  const [src, dst, mode = ''] = parts;
  const isVolume = !src.startsWith('/');
  const destination = checkTarget(isVolume ? 'volume' : 'bind', dst);
  const m = parseBindMode(raw, mode || 'rw', isVolume);
  if (isVolume) {
    return { type: 'volume', destination, source: src, rw: m.rw, mode: mode || 'z', propagation: '', copyData: m.copyData };
  }
  return {
    type: 'bind',
    destination,
    source: cleanPath(src),
    rw: m.rw,
    mode,
    propagation: m.propagation || DEFAULT_PROPAGATION,
    createSource: true,
  };
}

/** Size in the unit moby's ConvertTmpfsOptions writes. */
function tmpfsSize(bytes: number): string {
  for (const [suffix, unit] of [
    ['g', 1 << 30],
    ['m', 1 << 20],
    ['k', 1 << 10],
  ] as const) {
    if (bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

/** One HostConfig.Mounts entry, validated as dockerd's validateMountConfig does. */
export function parseMount(m: Mount): PlannedMount {
  const type = m.Type ?? '';
  const destination = checkTarget(type, m.Target ?? '');
  const rw = m.ReadOnly !== true;
  switch (type) {
    case 'bind': {
      if (!m.Source) throw mountConfigError('bind', 'field Source must not be empty');
      if (m.VolumeOptions) throw mountConfigError('bind', 'field VolumeOptions must not be specified');
      if (m.TmpfsOptions) throw mountConfigError('bind', 'field TmpfsOptions must not be specified');
      if (!posix.isAbsolute(m.Source)) throw mountConfigError('bind', `invalid mount path: '${m.Source}' mount path must be absolute`);
      const create = m.BindOptions?.CreateMountpoint === true;
      if (!create && !fs.existsSync(m.Source)) throw mountConfigError('bind', `bind source path does not exist: ${m.Source}`);
      return {
        type: 'bind',
        destination,
        source: cleanPath(m.Source),
        rw,
        mode: '',
        propagation: m.BindOptions?.Propagation || DEFAULT_PROPAGATION,
        nonRecursive: m.BindOptions?.NonRecursive === true,
        createSource: create,
      };
    }
    case 'volume': {
      if (m.BindOptions) throw mountConfigError('volume', 'field BindOptions must not be specified');
      if (m.TmpfsOptions) throw mountConfigError('volume', 'field TmpfsOptions must not be specified');
      const sub = m.VolumeOptions?.Subpath ?? '';
      if (sub !== '') {
        const clean = posix.normalize(sub);
        if (posix.isAbsolute(sub) || clean === '..' || clean.startsWith('../')) {
          throw mountConfigError('volume', 'subpath must be a relative path within the volume');
        }
      }
      const driver = m.VolumeOptions?.DriverConfig?.Name;
      if (driver && driver !== 'local') throw new NotFound(`error looking up volume plugin ${driver}: plugin "${driver}" not found`);
      return {
        type: 'volume',
        destination,
        source: m.Source ?? '',
        rw,
        mode: 'z',
        propagation: '',
        copyData: m.VolumeOptions?.NoCopy !== true && sub === '',
        subpath: sub || undefined,
        volumeLabels: m.VolumeOptions?.Labels,
        volumeDriverOpts: m.VolumeOptions?.DriverConfig?.Options,
      };
    }
    case 'tmpfs': {
      if (m.Source) throw mountConfigError('tmpfs', 'field Source must not be specified');
      if (m.BindOptions) throw mountConfigError('tmpfs', 'field BindOptions must not be specified');
      if (m.VolumeOptions) throw mountConfigError('tmpfs', 'field VolumeOptions must not be specified');
      const o = m.TmpfsOptions ?? {};
      if ((o.SizeBytes ?? 0) < 0) throw mountConfigError('tmpfs', `invalid tmpfs option: size must not be negative`);
      const data: string[] = [];
      if (o.SizeBytes) data.push(`size=${tmpfsSize(o.SizeBytes)}`);
      if (o.Mode) data.push(`mode=${(o.Mode & 0o7777).toString(8)}`);
      for (const opt of o.Options ?? []) data.push(opt.length > 1 ? `${opt[0]}=${opt[1]}` : opt[0]);
      if (!rw) data.push('ro');
      return { type: 'tmpfs', destination, source: '', rw, mode: '', propagation: '', tmpfsData: data.join(',') };
    }
    case 'image': {
      if (!m.Source) throw mountConfigError('image', 'field Source must not be empty');
      const sub = m.ImageOptions?.Subpath ?? '';
      if (sub !== '') {
        const clean = posix.normalize(sub);
        if (posix.isAbsolute(sub) || clean === '..' || clean.startsWith('../')) {
          throw mountConfigError('image', 'subpath must be a relative path within the image');
        }
      }
      return {
        type: 'image',
        destination,
        source: m.Source,
        rw: false,
        mode: '',
        propagation: DEFAULT_PROPAGATION,
        subpath: sub || undefined,
      };
    }
    case '':
      throw new InvalidParameter('invalid mount config: mount type unknown');
    default:
      throw mountConfigError(type, 'mount type unknown');
  }
}

/** A VolumesFrom entry: `container[:ro|rw]`. */
export function parseVolumesFrom(spec: string): { container: string; mode: '' | 'ro' | 'rw' } {
  const parts = spec.split(':');
  if (parts.length > 2 || parts[0] === '') throw new InvalidParameter(`invalid volumes-from spec: '${spec}'`);
  const mode = parts[1] ?? '';
  if (mode !== '' && mode !== 'ro' && mode !== 'rw') throw new InvalidParameter(`invalid mode: ${mode}`);
  return { container: parts[0], mode };
}

/**
 * The mount plan of a new container, in dockerd's order: volumes-from first (replaced by a
 * later mount at the same destination), then Binds and Mounts (a destination given twice is
 * refused), then the Volumes of the config and image that nothing else covers (anonymous volumes).
 */
export function planMounts(
  host: HostConfig,
  configVolumes: readonly string[],
  volumesFrom: (container: string) => PlannedMount[],
): PlannedMount[] {
  const byDest = new Map<string, PlannedMount>();
  for (const spec of host.VolumesFrom ?? []) {
    const { container, mode } = parseVolumesFrom(spec);
    for (const m of volumesFrom(container)) {
      const copy: PlannedMount = { ...m, copyData: false };
      if (mode !== '') copy.rw = mode === 'rw';
      if (mode !== '' && copy.type === 'bind') copy.mode = mode;
      byDest.set(copy.destination, copy);
    }
  }
  const given = new Set<string>();
  const add = (m: PlannedMount): void => {
    if (given.has(m.destination)) throw new InvalidParameter(`Duplicate mount point: ${m.destination}`);
    given.add(m.destination);
    byDest.set(m.destination, m);
  };
  for (const raw of host.Binds ?? []) add(parseBind(raw));
  for (const m of host.Mounts ?? []) add(parseMount(m));
  for (const v of configVolumes) {
    const dest = checkTarget('volume', v);
    if (byDest.has(dest)) continue;
    byDest.set(dest, { type: 'volume', destination: dest, source: '', rw: true, mode: '', propagation: '', copyData: true });
  }
  // Tmpfs (HostConfig.Tmpfs) at the same destination as a mount is refused too, as dockerd does.
  for (const dest of Object.keys(host.Tmpfs ?? {})) {
    if (given.has(posix.normalize(dest))) throw new InvalidParameter(`Duplicate mount point: ${dest}`);
  }
  return [...byDest.values()];
}

/** The MountPoint shown by inspect and ps. */
export function mountPointView(m: PlannedMount, volumePath: (name: string) => string): MountPoint {
  switch (m.type) {
    case 'volume':
      return {
        Type: 'volume',
        Name: m.source,
        Source: volumePath(m.source),
        Destination: m.destination,
        Driver: 'local',
        Mode: m.mode,
        RW: m.rw,
        Propagation: '',
      };
    case 'bind':
      return { Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.mode, RW: m.rw, Propagation: m.propagation };
    case 'tmpfs':
      return { Type: 'tmpfs', Source: '', Destination: m.destination, Mode: '', RW: m.rw, Propagation: '' };
    case 'image':
      return { Type: 'image', Source: m.source, Destination: m.destination, Mode: '', RW: false, Propagation: m.propagation };
  }
}

/** What building the OCI mounts needs from the volumes and images services. */
export interface MountResolver {
  /** The volume's data directory, mounted when it has driver options. */
  volumePath(name: string): Promise<string>;
  /** An image's layer dirs, top first, from its top chain ID. */
  imageLayers(chainId: string): Promise<string[]>;
  /** The container's own layers, top first, for copy-up. */
  containerLayers(): string[];
}

/**
 * Copies the image content at `destination` into an empty volume directory (dockerd's copy-up).
 * The destination is resolved inside the image's root (its symlinks lead to the image's own
 * files, never the host's), and the tree is copied fd-relative into the volume.
 */
async function copyUp(layers: string[], destination: string, target: string): Promise<void> {
  if (layers.length === 0) return;
  const dst = await fsp.open(target, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  try {
    if ((await fsp.readdir(fdPath(dst.fd))).length !== 0) return;
    const view = await mountReadOnlyLayers(layers);
    try {
      const rootFd = openRoot(view.path);
      let srcFd: number;
      try {
        srcFd = openInRoot(rootFd, destination, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
      } catch {
        return; // nothing there, or not a directory: nothing to copy
      } finally {
        fs.closeSync(rootFd);
      }
      try {
        await copyTreeAt(srcFd, dst.fd);
      } finally {
        fs.closeSync(srcFd);
      }
    } finally {
      await view.release();
    }
  } finally {
    await dst.close();
  }
}

/**
 * A volume's Subpath, pinned: opened beneath the volume's root (a symlink may lead elsewhere
 * inside it, never out), and that very inode bound from /proc/self/fd onto a staging point in the
 * temp-mounts dir. runc is given the staging point, so nothing it resolves can be swapped under
 * it. The staging mount is released once the task exists (dockerd's safepath.Join).
 */
async function pinSubpath(base: string, subpath: string): Promise<{ path: string; release: () => Promise<void> }> {
  const rootFd = fs.openSync(base, O_PATH | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  let fd: number;
  try {
    fd = openBeneath(rootFd, subpath, O_PATH);
  } catch (err) {
    const c = (err as NodeJS.ErrnoException).code;
    if (c === 'EXDEV') throw new InvalidParameter(`path concatenation escapes the base directory, base: ${base}, subpath: ${subpath}`);
    if (c === 'ENOENT') throw new InvalidParameter(`cannot access path ${posix.join(base, subpath)}: no such file or directory`);
    if (c === 'ELOOP') throw new InvalidParameter(`cannot access path ${posix.join(base, subpath)}: too many levels of symbolic links`);
    if (c === 'ENOTDIR') throw new InvalidParameter(`cannot access path ${posix.join(base, subpath)}: not a directory`);
    throw err;
  } finally {
    fs.closeSync(rootFd);
  }
  try {
    return await pinFd(fd, () => new InvalidParameter(`cannot access path ${posix.join(base, subpath)}: no such file or directory`));
  } finally {
    fs.closeSync(fd);
  }
}

/** Binds the inode open as `fd` onto a fresh staging point in tmp-mounts. */
async function pinFd(fd: number, gone: () => Error): Promise<{ path: string; release: () => Promise<void> }> {
  const staging = await tempMountPoint(fs.fstatSync(fd).isDirectory() ? 'dir' : 'file');
  try {
    bindFd(fd, staging);
  } catch (err) {
    await releaseTempMountPoint(staging).catch(() => undefined);
    // Removed since it was opened (a racer's rmdir): gone, as if it had never been there.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw gone();
    throw err;
  }
  return { path: staging, release: () => releaseTempMountPoint(staging) };
}

/** The plan as OCI mounts, preparing sources (volumes mounted, bind sources created, copy-up). */
export async function ociMounts(
  plan: readonly PlannedMount[],
  resolve: MountResolver,
): Promise<{ mounts: OciMount[]; release: () => Promise<void> }> {
  const out: OciMount[] = [];
  const pinned: (() => Promise<void>)[] = [];
  const release = async (): Promise<void> => {
    for (const r of pinned.splice(0)) await r().catch(() => undefined);
  };
  try {
    for (const m of plan) {
      if (m.type === 'tmpfs') {
        out.push(tmpfsMount(m.destination, m.tmpfsData ?? ''));
        continue;
      }
      let source: string;
      if (m.type === 'bind') {
        source = m.source;
        if (!fs.existsSync(source)) {
          if (!m.createSource) throw mountConfigError('bind', `bind source path does not exist: ${source}`);
          fs.mkdirSync(source, { recursive: true, mode: 0o755 });
        }
      } else if (m.type === 'volume') {
        const data = await resolve.volumePath(m.source);
        if (m.copyData) await copyUp(resolve.containerLayers(), m.destination, data);
        if (m.subpath) {
          const pin = await pinSubpath(data, m.subpath);
          pinned.push(pin.release);
          source = pin.path;
        } else source = data;
      } else {
        // The image's layers, read-only: one layer is bound, several are an overlay without upper.
        let layers = m.imageChain ? await resolve.imageLayers(m.imageChain) : [];
        if (layers.length === 0) throw new InvalidParameter(`image ${m.source} has no layers to mount`);
        if (m.subpath) {
          const pins = await pinImageSubpath(layers, m.subpath, m.source);
          pinned.push(...pins.map((p) => p.release));
          layers = pins.map((p) => p.path);
        }
        if (layers.length > 1) {
          out.push({ destination: m.destination, type: 'overlay', source: 'overlay', options: ['ro', `lowerdir=${layers.join(':')}`] });
          continue;
        }
        source = layers[0];
      }
      const options = [m.nonRecursive ? 'bind' : 'rbind'];
      if (!m.rw) options.push('ro');
      options.push(m.propagation || DEFAULT_PROPAGATION);
      out.push({ destination: m.destination, type: 'bind', source, options });
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { mounts: out, release };
}

/**
 * The layers' copies of an image mount's Subpath, top layer first, each resolved inside its own
 * layer (symlinks never leave it) and pinned like a volume's Subpath. A file is taken from the
 * top-most layer holding it; a directory is the overlay of every layer's copy, down to the first
 * layer where it is a file.
 */
async function pinImageSubpath(
  layers: string[],
  subpath: string,
  image: string,
): Promise<{ path: string; release: () => Promise<void> }[]> {
  const fds: number[] = [];
  const pins: { path: string; release: () => Promise<void> }[] = [];
  try {
    for (const layer of layers) {
      const rootFd = openRoot(layer);
      let fd: number;
      try {
        fd = openInRoot(rootFd, subpath, O_PATH);
      } catch {
        continue;
      } finally {
        fs.closeSync(rootFd);
      }
      const isDir = fs.fstatSync(fd).isDirectory();
      if (!isDir && fds.length > 0) {
        fs.closeSync(fd);
        break;
      }
      fds.push(fd);
      if (!isDir) break;
    }
    if (fds.length === 0) throw new InvalidParameter(`cannot access path ${subpath} in image ${image}: no such file or directory`);
    for (const fd of fds)
      pins.push(await pinFd(fd, () => new InvalidParameter(`cannot access path ${subpath} in image ${image}: no such file or directory`)));
    return pins;
  } catch (err) {
    for (const p of pins) await p.release().catch(() => undefined);
    throw err;
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
}
