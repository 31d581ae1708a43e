// The cgroup resources of a container as dockerd sets them: the default device cgroup rules,
// HostConfig.DeviceCgroupRules, and memory, cpu, pids and blkio from HostConfig's Resources, for the
// spec at create and for docker update (Tasks.Update).

import type { Resources } from '../containers/api-types';
import { InvalidParameter } from '../../lib/errors';
import { mulInt64 } from '../../lib/int64';
import type { DeviceNumber } from '../../runtime/devices';
import type { LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxMemory, LinuxResources, LinuxThrottleDevice } from '../../runtime/oci-types';

/** dockerd's default device cgroup rules: deny all, then the basic character devices; fuse stays denied. */
export function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const allow = (major: number, minor: number): LinuxDeviceCgroup => ({ allow: true, type: 'c', major, minor, access: 'rwm' });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5), // zero
    allow(1, 3), // null
    allow(1, 9), // urandom
    allow(1, 8), // random
    allow(5, 0), // tty
    allow(5, 1), // console
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' }, // fuse
  ];
}

const DEVICE_RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** HostConfig.DeviceCgroupRules ("c 1:3 rwm", "a *:* rwm") as allow rules; '*' is -1. */
export function parseDeviceCgroupRules(rules: readonly string[] | undefined): LinuxDeviceCgroup[] {
  return (rules ?? []).map((rule) => {
    const m = DEVICE_RULE.exec(rule);
    if (!m) throw new InvalidParameter(`invalid device cgroup rule format: '${rule}'`);
    const num = (s: string): number => (s === '*' ? -1 : Number(s));
    return { allow: true, type: m[1], major: num(m[2]), minor: num(m[3]), access: m[4] };
  });
}

function blkioDevice(path: string | undefined, devices: Record<string, DeviceNumber> | undefined): DeviceNumber {
  const d = path !== undefined ? devices?.[path] : undefined;
  if (!d) throw new InvalidParameter(`stat ${path ?? ''}: no such file or directory`);
  return d;
}

export interface ResourceOptions {
  /** major:minor of blkio device paths (daemon/oci/devices.ts resolveBlkioDevices). */
  blkioDevices?: Record<string, DeviceNumber>;
  /**
   * 'create' (the spec; default) or 'update' (docker update's Tasks.Update: only what dockerd's
   * update sends; blkio lists present-but-empty clear the setting).
   */
  mode?: 'create' | 'update';
}

const NANO_PERIOD = 100_000; // 100ms in µs, the CFS period dockerd uses for NanoCpus.

/**
 * The cgroup resources of HostConfig (memory, cpu, pids, blkio), without device rules. In create
 * mode a Memory limit without MemorySwap gets swap = 2 x Memory, as dockerd stores it at create.
 */
export function buildResources(r: Resources, opts: ResourceOptions = {}): LinuxResources {
  const update = opts.mode === 'update';
  const out: LinuxResources = {};

  const memory: LinuxMemory = {};
  const memLimit = r.Memory ?? 0;
  if (update ? memLimit !== 0 : memLimit > 0) memory.limit = memLimit;
  if (update ? (r.MemoryReservation ?? 0) !== 0 : (r.MemoryReservation ?? 0) > 0) memory.reservation = r.MemoryReservation;
  let swap = r.MemorySwap ?? 0;
  if (!update && memLimit > 0 && swap === 0) swap = mulInt64(memLimit, 2);
  if (swap > 0) memory.swap = swap;
  if (!update) {
    if (r.MemorySwappiness !== undefined && r.MemorySwappiness !== null && r.MemorySwappiness !== -1) {
      if (r.MemorySwappiness < 0 || r.MemorySwappiness > 100) {
        throw new InvalidParameter(`Invalid value: ${r.MemorySwappiness}, valid memory swappiness range is 0-100`);
      }
      memory.swappiness = r.MemorySwappiness;
    }
    if (typeof r.OomKillDisable === 'boolean') memory.disableOOMKiller = r.OomKillDisable;
  }
  if (Object.keys(memory).length > 0) out.memory = memory;

  const cpu: LinuxCpu = {};
  const MIN_CPU_SHARES = 2;
  const shares = r.CpuShares ?? 0;
  if (shares < 0) throw new InvalidParameter(`invalid CPU shares (${shares}): value must be a positive integer`);
  // The kernel's floor for cpu.shares is 2: it stores 2 for 1, and runc then refuses the start
  // because the value read back differs. Ask for what the kernel would keep.
  if (shares !== 0) cpu.shares = shares < MIN_CPU_SHARES ? MIN_CPU_SHARES : shares;
  if (r.CpusetCpus) cpu.cpus = r.CpusetCpus;
  if (r.CpusetMems) cpu.mems = r.CpusetMems;
  const nano = r.NanoCpus ?? 0;
  if (update ? nano !== 0 : nano > 0) {
    cpu.period = NANO_PERIOD;
    // Validation bounds NanoCpus by the host CPUs, well within a double.
    cpu.quota = Math.trunc((Number(nano) * NANO_PERIOD) / 1e9);
  }
  if (r.CpuPeriod && !(update && cpu.period)) cpu.period = r.CpuPeriod;
  if (r.CpuQuota && !(update && cpu.quota)) cpu.quota = r.CpuQuota;
  if (!update) {
    if (r.CpuRealtimePeriod) cpu.realtimePeriod = r.CpuRealtimePeriod;
    if (r.CpuRealtimeRuntime) cpu.realtimeRuntime = r.CpuRealtimeRuntime;
  }
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  if (r.PidsLimit !== undefined && r.PidsLimit !== null) out.pids = { limit: r.PidsLimit > 0 ? r.PidsLimit : -1 };

  const blockIO: LinuxBlockIo = {};
  if (r.BlkioWeight) blockIO.weight = r.BlkioWeight;
  const weights = r.BlkioWeightDevice ?? [];
  if (weights.length > 0 || (update && r.BlkioWeightDevice)) {
    blockIO.weightDevice = weights.map((w) => ({ ...blkioDevice(w.Path, opts.blkioDevices), weight: w.Weight ?? 0 }));
  }
  const throttle = (list: Resources['BlkioDeviceReadBps']): LinuxThrottleDevice[] | undefined => {
    if (!list || (list.length === 0 && !update)) return undefined;
    return list.map((t) => ({ ...blkioDevice(t.Path, opts.blkioDevices), rate: t.Rate ?? 0 }));
  };
  const rb = throttle(r.BlkioDeviceReadBps);
  const wb = throttle(r.BlkioDeviceWriteBps);
  const ri = throttle(r.BlkioDeviceReadIOps);
  const wi = throttle(r.BlkioDeviceWriteIOps);
  if (rb) blockIO.throttleReadBpsDevice = rb;
  if (wb) blockIO.throttleWriteBpsDevice = wb;
  if (ri) blockIO.throttleReadIOPSDevice = ri;
  if (wi) blockIO.throttleWriteIOPSDevice = wi;
  if (Object.keys(blockIO).length > 0) out.blockIO = blockIO;
  return out;
}
