// The figures the dashboard's charts draw, from one stats sample, computed as the docker CLI's
// `docker stats` computes its columns: CPU % from the deltas against precpu, memory without the
// inactive page cache, network bytes summed over the interfaces (counters; the page draws rates).

import type { ContainerStatsResponse, NetworkCounters } from '../containers/stats';

export interface DashboardStats {
  /** RFC 3339 time of the sample. */
  read: string;
  /** Percent of one CPU (100 = one core busy), as `docker stats`' CPU %. */
  cpuPercent: number;
  memUsage: number;
  /** 0 when unknown. */
  memLimit: number;
  rxBytes: number;
  txBytes: number;
}

function num(v: bigint | number | undefined): number {
  return v === undefined ? 0 : Number(v);
}

/** A sample as StatsService hands it: with `networks` where the container has its own stack. */
export function statsFigures(s: ContainerStatsResponse & { networks?: Record<string, NetworkCounters> }): DashboardStats {
  const cpuDelta = num(s.cpu_stats.cpu_usage.total_usage) - num(s.precpu_stats.cpu_usage.total_usage);
  const sysDelta = num(s.cpu_stats.system_cpu_usage) - num(s.precpu_stats.system_cpu_usage);
  const cpus = s.cpu_stats.online_cpus ?? s.cpu_stats.cpu_usage.percpu_usage?.length ?? 1;
  const cpuPercent = cpuDelta > 0 && sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const m = s.memory_stats;
  const inactive = num(m.stats?.['inactive_file'] ?? m.stats?.['total_inactive_file']);
  const usage = num(m.usage);
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes;
    tx += n.tx_bytes;
  }
  return {
    read: s.read,
    cpuPercent,
    memUsage: usage > inactive ? usage - inactive : usage,
    memLimit: num(m.limit),
    rxBytes: rx,
    txBytes: tx,
  };
}
