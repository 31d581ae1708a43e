// Linux capabilities as dockerd hands them to containers: the default set, CapAdd/CapDrop (with or
// without the CAP_ prefix, any case, "ALL"), and privileged mode (every capability the daemon itself
// holds). Pure except hostCapabilities(), which reads /proc/self/status once.

import { readFileSync } from 'node:fs';
import { InvalidParameter } from '../lib/errors';

/** Capability names by number, as far as the kernel headers go today (CAP_CHECKPOINT_RESTORE = 40). */
export const KNOWN_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** What a container starts with unless told otherwise (dockerd's list, in dockerd's order). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/**
 * The capabilities the daemon can hand out: the effective set of this process. A name known above
 * but missing here is "not supported by your kernel or not available in the current environment".
 */
export interface CapabilitySet {
  available: readonly string[];
}

/** Names for the bits set in a /proc/<pid>/status Cap* hex mask; unnamed bits are skipped. */
export function capabilitiesFromMask(hex: string): string[] {
  const mask = BigInt(`0x${hex.trim()}`);
  const out: string[] = [];
  for (let bit = 0; bit < KNOWN_CAPABILITIES.length; bit++) {
    if ((mask >> BigInt(bit)) & 1n) out.push(KNOWN_CAPABILITIES[bit]);
  }
  return out;
}

/** Parses the CapEff line of /proc/<pid>/status text. */
export function effectiveCapabilities(statusText: string): string[] | undefined {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  return m ? capabilitiesFromMask(m[1]) : undefined;
}

let hostCaps: CapabilitySet | undefined;

/** The daemon's own effective capabilities, read once. Falls back to every known name (as dockerd). */
export function hostCapabilities(): CapabilitySet {
  if (!hostCaps) {
    let available: string[] | undefined;
    try {
      available = effectiveCapabilities(readFileSync('/proc/self/status', 'utf8'));
    } catch {
      available = undefined;
    }
    hostCaps = { available: available && available.length > 0 ? available : [...KNOWN_CAPABILITIES] };
  }
  return hostCaps;
}

const ALL = 'ALL';

/**
 * Upper-cases, adds the CAP_ prefix and checks each name; "ALL" passes through. `field` names the
 * HostConfig field in the error ("invalid CapAdd: unknown capability: \"CAP_FOO\"").
 */
export function normalizeCapabilities(caps: readonly string[] | undefined, set: CapabilitySet, field?: 'CapAdd' | 'CapDrop'): string[] {
  const out: string[] = [];
  const prefix = field ? `invalid ${field}: ` : '';
  for (const raw of caps ?? []) {
    let c = raw.toUpperCase();
    if (c === ALL) {
      out.push(c);
      continue;
    }
    if (!c.startsWith('CAP_')) c = `CAP_${c}`;
    if (!KNOWN_CAPABILITIES.includes(c)) throw new InvalidParameter(`${prefix}unknown capability: ${JSON.stringify(c)}`);
    if (!set.available.includes(c)) {
      throw new InvalidParameter(
        `${prefix}capability not supported by your kernel or not available in the current environment: ${JSON.stringify(c)}`,
      );
    }
    out.push(c);
  }
  return out;
}

/** The create-time check dockerd makes on CapAdd and CapDrop. */
export function validateCapabilities(
  capAdd: readonly string[] | undefined,
  capDrop: readonly string[] | undefined,
  set: CapabilitySet,
): void {
  normalizeCapabilities(capAdd, set, 'CapAdd');
  normalizeCapabilities(capDrop, set, 'CapDrop');
}

/** The container's capability list: defaults tweaked by CapAdd/CapDrop, or everything when privileged. */
export function containerCapabilities(
  opts: { capAdd?: readonly string[]; capDrop?: readonly string[]; privileged?: boolean },
  set: CapabilitySet,
  basics: readonly string[] = DEFAULT_CAPABILITIES,
): string[] {
  if (opts.privileged) return [...set.available];
  if ((opts.capAdd ?? []).length === 0 && (opts.capDrop ?? []).length === 0) return [...basics];
  const drop = normalizeCapabilities(opts.capDrop, set, 'CapDrop');
  const add = normalizeCapabilities(opts.capAdd, set, 'CapAdd');
  let caps: string[];
  if (add.includes(ALL)) {
    caps = set.available.filter((c) => !drop.includes(c));
  } else if (drop.includes(ALL)) {
    caps = [...add];
  } else {
    caps = [...basics.filter((c) => !drop.includes(c)), ...add];
  }
  // A name given twice (default + CapAdd) is harmless to runc, but keep the list tidy.
  return [...new Set(caps)];
}
