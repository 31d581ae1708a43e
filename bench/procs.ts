// Process tree lookups of the benches (/proc): a daemon's children, to count its containerd and shims.
import * as fs from 'node:fs';

/** The direct children of `pid`, from every thread's children list. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[] = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/)) {
        if (c !== '') out.push(Number(c));
      }
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}
