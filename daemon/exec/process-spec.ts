// The OCI process of an exec, derived from the container's running spec as dockerd derives it:
// the container's rlimits, capabilities, user, noNewPrivileges and oom score carry over; the
// exec's own args, env, cwd, terminal and console size replace them; a named user is resolved
// from the container's files; --privileged grants every capability.
import type { OciProcess } from '../../runtime/oci-types';
import type { ResolvedUser } from '../../runtime/user';

export interface ExecProcessInput {
  /** The process of the container's running spec. */
  base: OciProcess;
  args: string[];
  env: string[];
  cwd: string;
  terminal: boolean;
  /** [height, width] as the API sends it; applied with a terminal only. */
  consoleSize?: readonly number[] | null;
  /** Set when the exec (or the container) names a user. */
  user?: ResolvedUser;
  /** Every capability the host has, when the exec is privileged. */
  allCapabilities?: readonly string[];
}

export function execProcess(input: ExecProcessInput): OciProcess {
  const p: OciProcess = {
    ...input.base,
    args: [...input.args],
    env: [...input.env],
    cwd: input.cwd || '/',
    terminal: input.terminal,
  };
  delete p.consoleSize;
  const [height = 0, width = 0] = input.consoleSize ?? [];
  if (input.terminal && (height > 0 || width > 0)) p.consoleSize = { height, width };
  if (input.user) {
    const u = input.user;
    p.user = { uid: u.uid, gid: u.gid, ...(u.umask !== undefined ? { umask: u.umask } : {}), additionalGids: [...u.additionalGids] };
  }
  if (input.allCapabilities) {
    const all = [...input.allCapabilities];
    p.capabilities = { bounding: all, effective: all, permitted: [...all] };
  }
  return p;
}

/** dockerd's ReplaceOrAppendEnvValues: an override replaces the same key, `KEY` alone unsets it. */
export function replaceOrAppendEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: Array<string | undefined> = [...defaults];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set((e ?? '').split('=')[0], i));
  for (const value of overrides) {
    const eq = value.indexOf('=');
    const key = eq < 0 ? value : value.slice(0, eq);
    const at = index.get(key);
    if (eq < 0) {
      if (at !== undefined) out[at] = undefined;
      continue;
    }
    if (at !== undefined && out[at] !== undefined) out[at] = value;
    else {
      index.set(key, out.length);
      out.push(value);
    }
  }
  return out.filter((e): e is string => e !== undefined);
}
