// What an engine holds right now, from /proc: resident memory, open descriptors and threads of
// the daemon and the containerd it started, and the mounts under its roots. No debug endpoint of
// either daemon is used, so the figures mean the same for Berth and dockerd.
import * as fs from 'node:fs';
import { daemonProcesses } from './memory';

export interface Held {
  /** VmRSS of the daemon plus its containerd, bytes. */
  rss: number;
  /** VmRSS of the daemon alone, bytes. */
  daemonRss: number;
  /** Open file descriptors of the daemon plus its containerd (/proc/<pid>/fd entries). */
  fds: number;
  /** Threads of the daemon plus its containerd (Node: libuv's pool and V8's; Go: OS threads). */
  threads: number;
  /** Mount points under the engine's roots (the host's /proc/self/mountinfo). */
  mounts: number;
}

function statusField(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // gone
  }
}

function fdCount(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** Mount points (field 5 of mountinfo, octal escapes kept) below any of `roots`. */
export function mountsUnder(roots: string[], mountinfo = '/proc/self/mountinfo'): number {
  const text = fs.readFileSync(mountinfo, 'utf8');
  let n = 0;
  for (const line of text.split('\n')) {
    const point = line.split(' ')[4];
    if (point !== undefined && roots.some((r) => point === r || point.startsWith(`${r}/`))) n++;
  }
  return n;
}

export function held(pid: number, roots: string[]): Held {
  const procs = daemonProcesses(pid);
  let rss = 0;
  let fds = 0;
  let threads = 0;
  for (const p of procs) {
    rss += statusField(p, 'VmRSS') * 1024;
    threads += statusField(p, 'Threads');
    fds += fdCount(p);
  }
  return { rss, daemonRss: statusField(pid, 'VmRSS') * 1024, fds, threads, mounts: mountsUnder(roots) };
}
