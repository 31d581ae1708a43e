// What a crashed berthd can leave behind, cleaned at the next start once containerd is up and
// the containers are restored: shims and container processes (a `runc init` stuck in a task that
// was being created) that no live task owns, the rootfs mounts of such tasks, and the temporary
// snapshot mounts (cp, export, diff) that were open at the crash.
//
// Only what is provably this daemon's is touched: processes whose command line names our
// containerd namespace (and our containerd's socket), or whose cgroup path is under our
// namespace's cgroup; mounts under our containerd state directory, or temp mounts whose overlay
// layers are in our containerd root. The namespace is derived from the data root, so another
// berthd on the same host never matches.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';

const run = promisify(execFile);

export interface SweepOptions {
  /** Our containerd namespace (unique per data root). */
  namespace: string;
  /** Ids of the tasks containerd runs for us after the restore: these are left alone. */
  liveTasks: ReadonlySet<string>;
  /** Our containerd's socket: a shim must name it as well as the namespace. */
  containerdSocket: string;
  /** <execRoot>/containerd, when berthd runs its own containerd. */
  stateDir?: string;
  /** <dataRoot>/containerd, when berthd runs its own containerd. */
  containerdRoot?: string;
  logger: Logger;
  /** Where /proc is (tests). */
  procRoot?: string;
  /** The directory temp mounts are made in (runtime/mount.ts); os.tmpdir() by default. */
  tmpDir?: string;
}

export interface SweepResult {
  killed: { pid: number; what: string }[];
  unmounted: string[];
}

const CONTAINER_ID = '[0-9a-f]{64}';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The value after `-flag` (or `--flag`) in a shim's argv. */
function flagValue(argv: string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length - 1; i++) {
    if (argv[i] === `-${flag}` || argv[i] === `--${flag}`) return argv[i + 1];
  }
  for (const a of argv) {
    for (const p of [`-${flag}=`, `--${flag}=`]) if (a.startsWith(p)) return a.slice(p.length);
  }
  return undefined;
}

/** Decides whether a process is ours and orphaned; returns why, or undefined. Pure, for tests. */
export function classifyProcess(
  argv: string[],
  cgroupText: string,
  opts: Pick<SweepOptions, 'namespace' | 'liveTasks' | 'containerdSocket'>,
): { id: string; what: string } | undefined {
  const exe = path.basename(argv[0] ?? '');
  if (exe.startsWith('containerd-shim')) {
    if (flagValue(argv, 'namespace') !== opts.namespace) return undefined;
    const address = flagValue(argv, 'address');
    if (address !== undefined && address.replace(/^unix:\/\//, '') !== opts.containerdSocket) return undefined;
    const id = flagValue(argv, 'id') ?? '';
    return opts.liveTasks.has(id) ? undefined : { id, what: `shim of ${id}` };
  }
  // cgroupfs: /<ns>/<id>; systemd: /system.slice/<ns>-<id>.scope (runc's slice:prefix:name).
  const ns = escapeRe(opts.namespace);
  const re = new RegExp(`(?:/${ns}/(${CONTAINER_ID})(?:/|$)|/${ns}-(${CONTAINER_ID})\\.scope(?:/|$))`);
  for (const line of cgroupText.split('\n')) {
    const cgPath = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    const m = re.exec(cgPath);
    if (!m) continue;
    const id = m[1] ?? m[2] ?? '';
    if (opts.liveTasks.has(id)) return undefined;
    return { id, what: `${exe || 'process'} in the cgroup of ${id}` };
  }
  return undefined;
}

/** /proc/self/mountinfo's octal escapes (\040 for a space, ...). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string;
}

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (f.length < 10 || sep < 6) continue;
    out.push({ mountPoint: unescapeMount(f[4]!), fsType: f[sep + 1] ?? '', superOptions: unescapeMount(f[sep + 3] ?? '') });
  }
  return out;
}

/** Mounts of ours that no live task holds. Pure, for tests. */
export function orphanMounts(
  mounts: MountEntry[],
  opts: Pick<SweepOptions, 'namespace' | 'liveTasks' | 'stateDir' | 'containerdRoot' | 'tmpDir'>,
): string[] {
  const out: string[] = [];
  const taskDir = opts.stateDir ? path.join(opts.stateDir, 'io.containerd.runtime.v2.task', opts.namespace) : undefined;
  const tmp = opts.tmpDir ?? os.tmpdir();
  for (const m of mounts) {
    if (taskDir && m.mountPoint.startsWith(`${taskDir}/`)) {
      const id = m.mountPoint.slice(taskDir.length + 1).split('/')[0] ?? '';
      if (!opts.liveTasks.has(id)) out.push(m.mountPoint);
      continue;
    }
    // runtime/mount.ts temp mounts: berth-mnt-* in the temp dir, ours if their layers are ours.
    if (opts.containerdRoot && path.dirname(m.mountPoint) === tmp && path.basename(m.mountPoint).startsWith('berth-mnt-')) {
      if (m.fsType === 'overlay' && m.superOptions.includes(`${opts.containerdRoot}/`)) out.push(m.mountPoint);
    }
  }
  // Deepest first, each once.
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

function readProc(procRoot: string, pid: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(procRoot, pid, file), 'utf8');
  } catch {
    return undefined;
  }
}

export async function sweepCrashLeftovers(opts: SweepOptions): Promise<SweepResult> {
  const procRoot = opts.procRoot ?? '/proc';
  const result: SweepResult = { killed: [], unmounted: [] };
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(procRoot).filter((e) => /^\d+$/.test(e));
  } catch (err) {
    opts.logger.warn({ err }, 'crash sweep: cannot list processes');
  }
  for (const pid of entries) {
    const n = Number(pid);
    if (n === process.pid) continue;
    const cmdline = readProc(procRoot, pid, 'cmdline');
    if (!cmdline) continue; // kernel thread or gone
    const argv = cmdline.split('\0').filter((a) => a !== '');
    const hit = classifyProcess(argv, readProc(procRoot, pid, 'cgroup') ?? '', opts);
    if (!hit) continue;
    try {
      process.kill(n, 'SIGKILL');
      result.killed.push({ pid: n, what: hit.what });
      opts.logger.warn({ pid: n, container: hit.id }, `crash sweep: killed ${hit.what} left by an earlier run`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') opts.logger.warn({ err, pid: n }, 'crash sweep: kill failed');
    }
  }
  let mountinfo = '';
  try {
    mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch (err) {
    opts.logger.warn({ err }, 'crash sweep: cannot read the mount table');
  }
  for (const mp of orphanMounts(parseMountinfo(mountinfo), opts)) {
    try {
      await run('umount', [mp]).catch(() => run('umount', ['-l', mp]));
      result.unmounted.push(mp);
      opts.logger.warn({ mountPoint: mp }, 'crash sweep: unmounted a mount left by an earlier run');
      if (path.basename(mp).startsWith('berth-mnt-')) fs.rmdirSync(mp);
    } catch (err) {
      opts.logger.warn({ err, mountPoint: mp }, 'crash sweep: unmount failed');
    }
  }
  return result;
}
