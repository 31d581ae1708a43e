// Versions of the OCI runtime and the init binary, for `docker info` / `docker version`.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SystemError, errorMessage } from '../lib/errors';

const run = promisify(execFile);
const TIMEOUT_MS = 10_000;

export interface RuncVersion {
  version: string;
  commit: string;
  spec: string;
}

export interface InitVersion {
  /** The binary that answered (docker-init or tini). */
  binary: string;
  version: string;
  /** Short git commit when the build reports one ("tini version 0.19.0 - git.de40ad0"); else ''. */
  commit: string;
}

/** Parses `runc --version`: "runc version X", "commit: Y", "spec: Z". */
export function parseRuncVersion(out: string): RuncVersion {
  const field = (re: RegExp): string => re.exec(out)?.[1]?.trim() ?? '';
  return {
    version: field(/^runc version (\S+)/m),
    commit: field(/^commit: (.+)$/m),
    spec: field(/^spec: (.+)$/m),
  };
}

export function parseTiniVersion(out: string): { version: string; commit: string } | undefined {
  const m = /tini version (\S+)(?:\s+-\s+git\.(\w+))?/.exec(out);
  return m ? { version: m[1], commit: m[2] ?? '' } : undefined;
}

export async function runcVersion(binary = 'runc'): Promise<RuncVersion> {
  let stdout: string;
  try {
    ({ stdout } = await run(binary, ['--version'], { timeout: TIMEOUT_MS }));
  } catch (err) {
    throw new SystemError(`cannot run ${binary} --version: ${errorMessage(err)}`);
  }
  const parsed = parseRuncVersion(stdout);
  if (!parsed.version) throw new SystemError(`unexpected output from ${binary} --version: ${stdout.trim()}`);
  return parsed;
}

/** The first of `binaries` that runs and reports a tini version; undefined when none does. */
export async function tiniVersion(binaries: string[] = ['docker-init', 'tini']): Promise<InitVersion | undefined> {
  for (const binary of binaries) {
    try {
      const { stdout } = await run(binary, ['--version'], { timeout: TIMEOUT_MS });
      const parsed = parseTiniVersion(stdout);
      if (parsed) return { binary, ...parsed };
    } catch {
      // Not installed or not tini: try the next name.
    }
  }
  return undefined;
}
