// `docker top`: the host's ps, narrowed to the container's processes, parsed as dockerd does.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SystemError } from '../../lib/errors';

const run = promisify(execFile);

export interface TopResult {
  Titles: string[];
  Processes: string[][];
}

export function parsePsOutput(output: string, pids: number[]): TopResult {
  const lines = output.split('\n');
  const titles = (lines[0] ?? '').trim().split(/\s+/).filter(Boolean);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex === -1) throw new SystemError("Couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const processes: string[][] = [];
  const append = (fields: string[]): void => {
    const head = fields.slice(0, titles.length - 1);
    processes.push([...head, fields.slice(titles.length - 1).join(' ')]);
  };
  // Thread lines ("-" as PID, from `m`) belong to the process line before them.
  let lastWanted = false;
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = line.trim().split(/\s+/);
    if (fields[pidIndex] === '-') {
      if (lastWanted) append(fields);
      continue;
    }
    const pid = Number(fields[pidIndex]);
    if (!Number.isInteger(pid)) throw new SystemError(`Unexpected pid '${fields[pidIndex]}'`);
    lastWanted = wanted.has(pid);
    if (lastWanted) append(fields);
  }
  return { Titles: titles, Processes: processes };
}

export async function runPs(psArgs: string, pids: number[]): Promise<TopResult> {
  const args = (psArgs || '-ef').split(' ').filter((a) => a !== '');
  let stdout: string;
  try {
    // `-q pids` narrows ps itself; some options (like f) refuse it, so retry without.
    stdout = (await run('ps', [...args, '-q', pids.join(',')])).stdout;
  } catch {
    try {
      stdout = (await run('ps', args)).stdout;
    } catch (err) {
      throw new SystemError(`Error running ps: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return parsePsOutput(stdout, pids);
}
