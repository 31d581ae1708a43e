// Peak resident memory of a daemon and its direct children (the containerd each engine starts),
// from the kernel's high-water mark (VmHWM), which writing 5 to clear_refs resets (Linux ≥ 4.0).
import * as fs from 'node:fs';
import { childrenOf } from './procs';

/** The daemon and its children whose command is containerd (not shims or containers). */
export function daemonProcesses(pid: number): number[] {
  const own = childrenOf(pid).filter((c) => {
    try {
      return /(^|\/)containerd$/.test(fs.readFileSync(`/proc/${c}/comm`, 'utf8').trim());
    } catch {
      return false;
    }
  });
  return [pid, ...own];
}

export function resetPeakRss(pid: number): void {
  for (const p of daemonProcesses(pid)) {
    try {
      fs.writeFileSync(`/proc/${p}/clear_refs`, '5');
    } catch {
      // gone, or not ours to reset: its peak then covers more than the step
    }
  }
}

/** Sum of the peaks (bytes): an upper bound of what the engine held at once. */
export function peakRss(pid: number): number {
  let total = 0;
  for (const p of daemonProcesses(pid)) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}
