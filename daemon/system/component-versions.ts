// Versions of the binaries Berth runs (runc, the init), read from their `--version` output the
// way dockerd parses it. The daemon wires these into SystemService (containerd's version comes
// over its gRPC Version service instead).

import { execFile } from 'node:child_process';
import type { ComponentRelease } from './service';

/**
 * `tini --version` ("tini version 0.19.0 - git.de40ad0", or without the git part on distro
 * builds) to version and commit, as dockerd's parseInitVersion does.
 */
export function parseInitVersion(output: string): ComponentRelease | undefined {
  const parts = output.split(' - ');
  let commit = '';
  if (parts.length >= 2) {
    const git = parts[1].trim().split('.');
    if (git.length === 2 && git[0] === 'git') commit = git[1];
  }
  const head = parts[0].trim();
  const version = head.startsWith('tini version ') ? head.slice('tini version '.length) : '';
  if (version === '' && commit === '') return undefined;
  return { version, commit };
}

/** `runc --version` ("runc version 1.1.5\ncommit: v1.1.5-0-g...\nspec: 1.0.2") to version and commit. */
export function parseRuntimeVersion(output: string): ComponentRelease | undefined {
  let version = '';
  let commit = '';
  for (const line of output.trim().split('\n')) {
    if (line.includes('version')) {
      const s = line.split('version');
      version = s[s.length - 1].trim();
    } else if (line.startsWith('commit:')) {
      commit = line.slice('commit:'.length).trim();
    }
  }
  if (version === '' && commit === '') return undefined;
  return { version, commit };
}

/** Runs `binary --version` and returns its standard output. */
export function versionOutput(binary: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, ['--version'], { timeout: timeoutMs }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
}

/** The init binary's release, or undefined when it is not installed or says nothing useful. */
export async function initBinaryVersion(binary: string): Promise<ComponentRelease | undefined> {
  let out: string;
  try {
    out = await versionOutput(binary);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseInitVersion(out);
}

/** The OCI runtime's release; throws when the binary cannot be run or its output is unknown. */
export async function runtimeBinaryVersion(binary: string): Promise<ComponentRelease> {
  const out = await versionOutput(binary);
  const v = parseRuntimeVersion(out);
  if (!v) throw new Error(`failed to parse ${binary} version: unknown output format: ${out}`);
  return v;
}
