// One stats sample, shaped as the API's ContainerStatsResponse (64-bit counters as bigint), built
// from containerd's cgroup v1 or v2 metrics as moby's stats_unix.go does, plus the host facts
// (/proc/stat, /proc/meminfo, CLK_TCK) it is computed against.

import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { V1Metrics, V2Metrics } from '../../runtime/tasks';
import type { NetworkCounters } from '../networks/sandboxes';

/** dockerd's collection interval. */
export const STATS_INTERVAL_MS = 1000;

/** Go's zero time.Time, as it marshals. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface BlkioStatEntry {
  major: bigint;
  minor: bigint;
  op: string;
  value: bigint;
}

/** null where dockerd's slice is nil (no metrics), [] where cgroup v1 reported none. */
export interface BlkioStats {
  io_service_bytes_recursive: BlkioStatEntry[] | null;
  io_serviced_recursive: BlkioStatEntry[] | null;
  io_queue_recursive: BlkioStatEntry[] | null;
  io_service_time_recursive: BlkioStatEntry[] | null;
  io_wait_time_recursive: BlkioStatEntry[] | null;
  io_merged_recursive: BlkioStatEntry[] | null;
  io_time_recursive: BlkioStatEntry[] | null;
  sectors_recursive: BlkioStatEntry[] | null;
}

export interface CpuStats {
  cpu_usage: {
    total_usage: bigint;
    /** cgroup v1 only; left out when empty (omitempty). */
    percpu_usage?: bigint[];
    usage_in_kernelmode: bigint;
    usage_in_usermode: bigint;
  };
  /** Host CPU time in ns from /proc/stat; left out when zero (omitempty). */
  system_cpu_usage?: bigint;
  online_cpus?: number;
  throttling_data: { periods: bigint; throttled_periods: bigint; throttled_time: bigint };
}

/** Fields left out when zero, as Go's omitempty does. */
export interface MemoryStats {
  usage?: bigint;
  max_usage?: bigint;
  stats?: Record<string, bigint>;
  failcnt?: bigint;
  limit?: bigint;
}

export interface PidsStats {
  current?: bigint;
  limit?: bigint;
}

/** One sample as the API sends it, in the spec's (moby 28's) field order. */
export interface ContainerStatsResponse {
  name: string;
  id: string;
  os_type?: string;
  read: string;
  cpu_stats: CpuStats;
  memory_stats: MemoryStats;
  pids_stats: PidsStats;
  blkio_stats: BlkioStats;
  num_procs: number;
  storage_stats: Record<string, never>;
  preread: string;
  precpu_stats: CpuStats;
}

/** What the collector measured for one container at one tick (no name, id or precpu yet). */
export interface StatsSample {
  read: string;
  cpu_stats: CpuStats;
  memory_stats: MemoryStats;
  pids_stats: PidsStats;
  blkio_stats: BlkioStats;
  /** Per interface, for containers with their own network stack. */
  networks?: Record<string, NetworkCounters>;
}

export type { NetworkCounters };

export function emptyCpuStats(): CpuStats {
  return {
    cpu_usage: { total_usage: 0n, usage_in_kernelmode: 0n, usage_in_usermode: 0n },
    throttling_data: { periods: 0n, throttled_periods: 0n, throttled_time: 0n },
  };
}

function nilBlkio(): BlkioStats {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

/** What dockerd publishes for a container that is not running: all zero, zero times. */
export function emptySample(): StatsSample {
  return { read: ZERO_TIME, cpu_stats: emptyCpuStats(), memory_stats: {}, pids_stats: {}, blkio_stats: nilBlkio() };
}

/** Host facts the samples need: total memory and the CPU time of the whole machine. */
export interface HostCpu {
  /** Sum of user..softirq of /proc/stat's "cpu" line, in ns. */
  systemUsage: bigint;
  /** The cpuN lines of /proc/stat. */
  onlineCpus: number;
}

/** getSystemCPUUsage of moby's stats_collector_unix.go, from /proc/stat's text. */
export function parseProcStat(text: string, clockTicksPerSecond: number): HostCpu {
  let systemUsage: bigint | undefined;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'cpu') {
      if (parts.length < 8) throw new Error('invalid number of cpu fields');
      let ticks = 0n;
      for (const f of parts.slice(1, 8)) ticks += BigInt(f);
      systemUsage = (ticks * 1_000_000_000n) / BigInt(clockTicksPerSecond);
    }
    if (parts[0].length > 3 && parts[0].startsWith('cpu')) onlineCpus++;
  }
  if (systemUsage === undefined) throw new Error('invalid stat format: no cpu line');
  return { systemUsage, onlineCpus };
}

/** MemTotal of /proc/meminfo in bytes (0 when unreadable). */
export function machineMemory(meminfo: string): bigint {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? BigInt(m[1]) * 1024n : 0n;
}

const u = (v: bigint | undefined): bigint => v ?? 0n;

type V1BlkioEntries = ReadonlyArray<{ op?: string; major?: bigint; minor?: bigint; value?: bigint }> | undefined;

/** copyBlkioEntry: an empty (not nil) slice when the cgroup listed no devices. */
function copyBlkio(entries: V1BlkioEntries): BlkioStatEntry[] {
  return (entries ?? []).map((e) => ({ major: u(e.major), minor: u(e.minor), op: e.op ?? '', value: u(e.value) }));
}

/** dockerd's limit: a cgroup "unlimited" (huge) value reads as the machine's memory. */
function clampLimit(limit: bigint | undefined, hostMemory: bigint): bigint {
  const l = u(limit);
  return hostMemory > 0n && l > hostMemory ? hostMemory : l;
}

/** Drops zero fields (Go's omitempty on integers). */
function omitZero<T extends Record<string, bigint | Record<string, bigint> | undefined>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === 0n || o[k] === undefined) delete o[k];
  return o;
}

/** statsV1 of moby's stats_unix.go. */
export function sampleFromV1(m: V1Metrics, read: string, hostMemory: bigint): StatsSample {
  const s = emptySample();
  s.read = read;
  if (m.blkio) {
    const b = m.blkio;
    s.blkio_stats = {
      io_service_bytes_recursive: copyBlkio(b.ioServiceBytesRecursive),
      io_serviced_recursive: copyBlkio(b.ioServicedRecursive),
      io_queue_recursive: copyBlkio(b.ioQueuedRecursive),
      io_service_time_recursive: copyBlkio(b.ioServiceTimeRecursive),
      io_wait_time_recursive: copyBlkio(b.ioWaitTimeRecursive),
      io_merged_recursive: copyBlkio(b.ioMergedRecursive),
      io_time_recursive: copyBlkio(b.ioTimeRecursive),
      sectors_recursive: copyBlkio(b.sectorsRecursive),
    };
  }
  if (m.cpu) {
    const usage = m.cpu.usage;
    const perCpu = usage?.perCpu ?? [];
    s.cpu_stats = {
      cpu_usage: {
        total_usage: u(usage?.total),
        ...(perCpu.length > 0 ? { percpu_usage: [...perCpu] } : {}),
        usage_in_kernelmode: u(usage?.kernel),
        usage_in_usermode: u(usage?.user),
      },
      throttling_data: {
        periods: u(m.cpu.throttling?.periods),
        throttled_periods: u(m.cpu.throttling?.throttledPeriods),
        throttled_time: u(m.cpu.throttling?.throttledTime),
      },
    };
  }
  if (m.memory) {
    const mem = m.memory;
    const raw: Record<string, bigint> = {
      cache: u(mem.cache),
      rss: u(mem.rss),
      rss_huge: u(mem.rssHuge),
      mapped_file: u(mem.mappedFile),
      dirty: u(mem.dirty),
      writeback: u(mem.writeback),
      pgpgin: u(mem.pgPgIn),
      pgpgout: u(mem.pgPgOut),
      pgfault: u(mem.pgFault),
      pgmajfault: u(mem.pgMajFault),
      inactive_anon: u(mem.inactiveAnon),
      active_anon: u(mem.activeAnon),
      inactive_file: u(mem.inactiveFile),
      active_file: u(mem.activeFile),
      unevictable: u(mem.unevictable),
      hierarchical_memory_limit: u(mem.hierarchicalMemoryLimit),
      hierarchical_memsw_limit: u(mem.hierarchicalSwapLimit),
      total_cache: u(mem.totalCache),
      total_rss: u(mem.totalRss),
      total_rss_huge: u(mem.totalRssHuge),
      total_mapped_file: u(mem.totalMappedFile),
      total_dirty: u(mem.totalDirty),
      total_writeback: u(mem.totalWriteback),
      total_pgpgin: u(mem.totalPgPgIn),
      total_pgpgout: u(mem.totalPgPgOut),
      total_pgfault: u(mem.totalPgFault),
      total_pgmajfault: u(mem.totalPgMajFault),
      total_inactive_anon: u(mem.totalInactiveAnon),
      total_active_anon: u(mem.totalActiveAnon),
      total_inactive_file: u(mem.totalInactiveFile),
      total_active_file: u(mem.totalActiveFile),
      total_unevictable: u(mem.totalUnevictable),
    };
    s.memory_stats = omitZero({
      usage: mem.usage?.usage,
      max_usage: mem.usage?.max,
      stats: raw,
      failcnt: mem.usage?.failcnt,
      limit: clampLimit(mem.usage?.limit, hostMemory),
    });
  }
  if (m.pids) s.pids_stats = omitZero({ current: m.pids.current, limit: m.pids.limit });
  return s;
}

/** statsV2 of moby's stats_unix.go: no per-CPU usage, max_usage or blkio beyond bytes. */
export function sampleFromV2(m: V2Metrics, read: string, hostMemory: bigint): StatsSample {
  const s = emptySample();
  s.read = read;
  if (m.io) {
    const entries: BlkioStatEntry[] = [];
    for (const e of m.io.usage ?? []) {
      entries.push({ major: u(e.major), minor: u(e.minor), op: 'read', value: u(e.rbytes) });
      entries.push({ major: u(e.major), minor: u(e.minor), op: 'write', value: u(e.wbytes) });
    }
    // A nil slice in dockerd when the cgroup reported no devices.
    s.blkio_stats.io_service_bytes_recursive = entries.length > 0 ? entries : null;
  }
  if (m.cpu) {
    s.cpu_stats = {
      cpu_usage: {
        total_usage: u(m.cpu.usageUsec) * 1000n,
        usage_in_kernelmode: u(m.cpu.systemUsec) * 1000n,
        usage_in_usermode: u(m.cpu.userUsec) * 1000n,
      },
      throttling_data: {
        periods: u(m.cpu.nrPeriods),
        throttled_periods: u(m.cpu.nrThrottled),
        throttled_time: u(m.cpu.throttledUsec) * 1000n,
      },
    };
  }
  if (m.memory) {
    const mem = m.memory;
    const raw: Record<string, bigint> = {
      anon: u(mem.anon),
      file: u(mem.file),
      kernel_stack: u(mem.kernelStack),
      slab: u(mem.slab),
      sock: u(mem.sock),
      shmem: u(mem.shmem),
      file_mapped: u(mem.fileMapped),
      file_dirty: u(mem.fileDirty),
      file_writeback: u(mem.fileWriteback),
      anon_thp: u(mem.anonThp),
      inactive_anon: u(mem.inactiveAnon),
      active_anon: u(mem.activeAnon),
      inactive_file: u(mem.inactiveFile),
      active_file: u(mem.activeFile),
      unevictable: u(mem.unevictable),
      slab_reclaimable: u(mem.slabReclaimable),
      slab_unreclaimable: u(mem.slabUnreclaimable),
      pgfault: u(mem.pgfault),
      pgmajfault: u(mem.pgmajfault),
      workingset_refault: u(mem.workingsetRefault),
      workingset_activate: u(mem.workingsetActivate),
      workingset_nodereclaim: u(mem.workingsetNodereclaim),
      pgrefill: u(mem.pgrefill),
      pgscan: u(mem.pgscan),
      pgsteal: u(mem.pgsteal),
      pgactivate: u(mem.pgactivate),
      pgdeactivate: u(mem.pgdeactivate),
      pglazyfree: u(mem.pglazyfree),
      pglazyfreed: u(mem.pglazyfreed),
      thp_fault_alloc: u(mem.thpFaultAlloc),
      thp_collapse_alloc: u(mem.thpCollapseAlloc),
    };
    s.memory_stats = omitZero({
      usage: mem.usage,
      stats: raw,
      // memory.events "oom" stands in for v1's failcnt.
      failcnt: m.memoryEvents?.oom,
      limit: clampLimit(mem.usageLimit, hostMemory),
    });
  }
  if (m.pids) s.pids_stats = omitZero({ current: m.pids.current, limit: m.pids.limit });
  return s;
}

/** The kernel's USER_HZ (clock ticks of /proc/stat), 100 unless getconf says otherwise. */
export function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

/** The host facts read once at start. */
export function hostMemoryBytes(): bigint {
  try {
    return machineMemory(fs.readFileSync('/proc/meminfo', 'utf8'));
  } catch {
    return 0n;
  }
}
