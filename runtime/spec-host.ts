// Facts about the host that the OCI spec depends on, read once and cached: the daemon's own
// capabilities (what privileged means), the architecture and kernel (seccomp rules), the
// default masked paths (dockerd adds each CPU's thermal_throttle directory that exists) and which
// sysctls exist. buildSpec() takes them as an argument, so tests can pass their own.

import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { hostCapabilities, type CapabilitySet } from './capabilities';
import { seccompNativeArch } from './seccomp';

export interface SpecHostFacts {
  capabilities: CapabilitySet;
  /** libseccomp's name for the host architecture (amd64, arm64, ...). */
  arch: string;
  kernelRelease: string;
  /** Default linux.maskedPaths. */
  maskedPaths: readonly string[];
  sysctlExists(name: string): boolean;
}

/** dockerd's default masked paths, before the per-CPU thermal_throttle ones. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** CPU numbers from a /sys/devices/system/cpu/possible list such as "0-3,8". */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map((n) => Number(n));
    if (!Number.isInteger(a)) continue;
    const end = b === undefined ? a : b;
    for (let i = a; Number.isInteger(end) && i <= end; i++) out.push(i);
  }
  return out;
}

/** The default masked paths plus /sys/devices/system/cpu/cpu<N>/thermal_throttle where present. */
export function hostMaskedPaths(): string[] {
  let cpus: number[] = [];
  try {
    cpus = parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  } catch {
    cpus = [];
  }
  const extra = cpus.map((n) => `/sys/devices/system/cpu/cpu${n}/thermal_throttle`).filter((p) => existsSync(p));
  return [...DEFAULT_MASKED_PATHS, ...extra];
}

let cached: SpecHostFacts | undefined;

export function hostSpecFacts(): SpecHostFacts {
  if (!cached) {
    const sysctls = new Map<string, boolean>();
    cached = {
      capabilities: hostCapabilities(),
      arch: seccompNativeArch(),
      kernelRelease: release(),
      maskedPaths: hostMaskedPaths(),
      sysctlExists(name: string): boolean {
        let known = sysctls.get(name);
        if (known === undefined) {
          known = existsSync(`/proc/sys/${name.replaceAll('.', '/')}`);
          sysctls.set(name, known);
        }
        return known;
      },
    };
  }
  return cached;
}
