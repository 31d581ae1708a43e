// Turns a container's record into the OCI spec daemon/oci/spec.ts builds: resolves the user from
// the container's own files, the devices, the namespaces of container:<id> modes, and the
// daemon-wide defaults. Also the early checks dockerd makes at create.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Containerd } from '../../runtime/containerd';
import { containerCapabilities, hostCapabilities, validateCapabilities } from '../../runtime/capabilities';
import { resolveBlkioDevices, resolveContainerDevices } from '../oci/devices';
import type { LinuxResources, OciMount, OciSpec } from '../../runtime/oci-types';
import { overlayDirs, overlayDirsFromMounts, snapshotMounts, type Mount } from '../../runtime/snapshots';
import { buildResources, parseDeviceCgroupRules } from '../oci/resources';
import { buildSpec, parseSecurityOpt } from '../oci/spec';
import { resolveUser } from '../../runtime/user';
import { InvalidParameter } from '../../lib/errors';
import type { ContainerConfig, HostConfig, Ulimit } from './api-types';
import { ociMounts, type MountResolver } from './mounts';
import type { Container, ContainerRecord } from './model';

export interface SpecDefaults {
  namespace: string;
  cgroupParent: string;
  cgroupDriver: 'cgroupfs' | 'systemd';
  cgroupVersion: '1' | '2';
  /** tini on the host, for --init (and the daemon's `init` default). */
  initPath?: string;
  initByDefault: boolean;
  seccompProfile: string;
  defaultUlimits: Record<string, Required<Ulimit>>;
  shmSize: number;
  noNewPrivileges: boolean;
}

export class SpecFactory {
  /** Where volumes' data is (set in main once the volumes service exists). */
  volumes?: { prepare(name: string): Promise<{ path: string }> };

  constructor(
    private readonly ctd: Containerd,
    private readonly defaults: SpecDefaults,
  ) {}

  /**
   * Removes the per-namespace parent cgroup (`/<namespace>`) that runc created for Berth's
   * containers, in every hierarchy, when no container is left in it. Only the default parent
   * Berth derives itself is touched, never a configured one. Best effort.
   */
  removeEmptyCgroupParent(root = '/sys/fs/cgroup'): void {
    const parent = this.defaults.cgroupParent;
    if (this.defaults.cgroupDriver !== 'cgroupfs' || parent !== `/${this.defaults.namespace}`) return;
    const dirs = this.defaults.cgroupVersion === '2' ? [root] : listDirs(root);
    for (const d of dirs) {
      try {
        fs.rmdirSync(path.join(d, parent));
      } catch {
        // absent, or still in use
      }
    }
  }

  /** What dockerd refuses at create rather than at start. */
  validate(_config: ContainerConfig, host: HostConfig): string[] {
    validateCapabilities(host.CapAdd, host.CapDrop, hostCapabilities());
    parseDeviceCgroupRules(host.DeviceCgroupRules);
    parseSecurityOpt(host.SecurityOpt);
    if (host.Init && !this.defaults.initPath) {
      throw new InvalidParameter('--init requested but no init binary (tini / docker-init) is installed');
    }
    return [];
  }

  /** The LinuxResources of a `docker update` request: only what it sets (dockerd's toContainerdResources). */
  async updateResources(changes: HostConfig): Promise<LinuxResources> {
    return buildResources(changes, { mode: 'update', blkioDevices: await resolveBlkioDevices(changes) });
  }

  /**
   * netnsPath: the container's own network namespace, made by the network layer (else a fresh
   * one from runc). linkEnv: legacy links' variables, between the defaults and the container's.
   */
  async build(
    c: Container,
    nsSource: (input: string) => { id: string; pid: number },
    netnsPath?: string,
    linkEnv: string[] = [],
  ): Promise<{ spec: OciSpec; rootfs: Mount[]; releaseMounts: () => Promise<void> }> {
    const r = c.record;
    const host = r.hostConfig;
    const mounts = await snapshotMounts(this.ctd, r.id);
    const dirs = overlayDirsFromMounts(mounts);
    const layers = [dirs.UpperDir, ...(dirs.LowerDir ? dirs.LowerDir.split(':') : [])];
    const user = await resolveUser(layers, r.config.User ?? '', host.GroupAdd ?? []);

    const etc: OciMount[] = [
      { destination: '/etc/resolv.conf', type: 'bind', source: r.resolvConfPath, options: ['rbind', 'rprivate'] },
      { destination: '/etc/hostname', type: 'bind', source: r.hostnamePath, options: ['rbind', 'rprivate'] },
      { destination: '/etc/hosts', type: 'bind', source: r.hostsPath, options: ['rbind', 'rprivate'] },
    ];
    const join: Partial<Record<'pid' | 'ipc' | 'uts', string>> = {};
    for (const [kind, mode] of [
      ['pid', host.PidMode],
      ['ipc', host.IpcMode],
      ['uts', host.UTSMode],
    ] as const) {
      if (mode?.startsWith('container:')) {
        const other = nsSource(mode.slice('container:'.length));
        join[kind] = `/proc/${other.pid}/ns/${kind}`;
      }
    }
    const netMode = host.NetworkMode ?? 'default';
    let network: { path: string } | 'host' | 'private' = netnsPath ? { path: netnsPath } : 'private';
    if (netMode === 'host') network = 'host';
    else if (netMode.startsWith('container:')) {
      const other = nsSource(netMode.slice('container:'.length));
      network = { path: `/proc/${other.pid}/ns/net` };
    }
    const caps = containerCapabilities({ capAdd: host.CapAdd, capDrop: host.CapDrop, privileged: host.Privileged }, hostCapabilities());
    void caps; // buildSpec computes the same set; resolving here surfaces bad names before anything starts.
    const init = host.Init ?? this.defaults.initByDefault;
    // Pinned Subpath sources stay mounted until the task exists: the caller releases them.
    const { mounts: own, release: releaseMounts } = await ociMounts(r.mounts ?? [], this.mountResolver(layers));
    try {
      const spec = await buildSpec({
        id: r.id,
        namespace: this.defaults.namespace,
        config: r.config,
        hostConfig: host,
        process: {
          args: [r.path, ...r.args],
          env: withDefaultEnv(r.config, linkEnv),
          cwd: r.config.WorkingDir || '/',
          user,
          terminal: r.config.Tty === true,
        },
        hostname: r.config.Hostname ?? '',
        domainname: r.config.Domainname ?? '',
        mounts: [...etc, ...own],
        network,
        joinNamespaces: join,
        cgroupParent: this.defaults.cgroupParent,
        cgroupDriver: this.defaults.cgroupDriver,
        cgroupVersion: this.defaults.cgroupVersion,
        init: init && this.defaults.initPath ? { hostPath: this.defaults.initPath } : undefined,
        seccompProfile: this.defaults.seccompProfile,
        defaultUlimits: this.defaults.defaultUlimits,
        shmSize: this.defaults.shmSize,
        devices: await resolveContainerDevices(host),
        blkioDevices: await resolveBlkioDevices(host),
        noNewPrivileges: this.defaults.noNewPrivileges,
      });
      return { spec, rootfs: mounts, releaseMounts };
    } catch (err) {
      await releaseMounts();
      throw err;
    }
  }

  /**
   * The container's mounts with their host sources (volumes prepared, Subpaths pinned), for
   * docker cp to mount as dockerd's mountVolumes does. No copy-up: that is the start's to do.
   */
  hostMounts(r: ContainerRecord): Promise<{ mounts: OciMount[]; release: () => Promise<void> }> {
    return ociMounts(r.mounts ?? [], this.mountResolver([]));
  }

  private mountResolver(containerLayers: string[]): MountResolver {
    const volumes = this.volumes;
    return {
      volumePath: async (name) => {
        if (!volumes) throw new InvalidParameter('volumes are not available');
        return (await volumes.prepare(name)).path;
      },
      containerLayers: () => containerLayers,
      imageLayers: async (chainId) => {
        const d = await overlayDirs(this.ctd, chainId);
        return [d.UpperDir, ...(d.LowerDir ? d.LowerDir.split(':') : [])];
      },
    };
  }
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The process environment, as dockerd's CreateDaemonEnvironment builds it: PATH, HOSTNAME and
 * (with a TTY) TERM=xterm first, then the container's Env replacing or appending by key. An
 * entry without "=" unsets that key and is itself left out (runc refuses it).
 */
export function withDefaultEnv(config: ContainerConfig, linkEnv: string[] = []): string[] {
  const env = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${config.Hostname ?? ''}`];
  if (config.Tty) env.push('TERM=xterm');
  env.push(...linkEnv);
  return replaceOrAppendEnv(env, config.Env ?? []);
}

/** moby's ReplaceOrAppendEnvValues. */
export function replaceOrAppendEnv(defaults: string[], overrides: string[]): string[] {
  const out: (string | undefined)[] = [...defaults];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set((e as string).split('=')[0], i));
  for (const value of overrides) {
    const eq = value.indexOf('=');
    if (eq < 0) {
      const i = index.get(value);
      if (i !== undefined) out[i] = undefined;
      continue;
    }
    // As in moby, only the defaults are looked up: a repeated override is appended again.
    const i = index.get(value.slice(0, eq));
    if (i !== undefined) out[i] = value;
    else out.push(value);
  }
  return out.filter((e): e is string => e !== undefined);
}

function listDirs(root: string): string[] {
  try {
    return fs
      .readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(root, e.name));
  } catch {
    return [];
  }
}
