// Per-container series, labelled id, name and image. They are read at scrape time from the same
// shared stats collector `docker stats` uses (one containerd Metrics call for all running
// containers per tick), not by a poller of their own; the number of containers exported is
// bounded, so a host with thousands of containers cannot make a scrape unbounded.

import { Counter, Gauge } from 'prom-client';
import type { StatsSample } from '../containers/stats';
import type { DaemonMetrics } from './daemon-metrics';

export interface ContainerFacts {
  id: string;
  /** Without the leading slash. */
  name: string;
  /** The image as the user named it. */
  image: string;
  running: boolean;
  paused: boolean;
  restartCount: number;
  health?: 'starting' | 'healthy' | 'unhealthy';
}

export interface ContainerMetricsSource {
  containers(): ContainerFacts[];
  /** One sample per running container (the shared collector), within `timeoutMs`. */
  samples(ids: readonly string[], timeoutMs: number): Promise<Map<string, StatsSample>>;
}

export interface ContainerMetricsOptions {
  /** Most containers exported per scrape (running ones first); the rest are counted as left out. */
  maxContainers?: number;
  /** How long a scrape waits for the collector's samples. */
  sampleTimeoutMs?: number;
}

const LABELS = ['id', 'name', 'image'] as const;
type Label = (typeof LABELS)[number];
const HEALTH = ['starting', 'healthy', 'unhealthy'] as const;

/** Sum of a blkio list's entries for `op`, case-insensitively (v1 says Read, v2 read). */
function blkio(sample: StatsSample, op: string): number {
  let n = 0n;
  for (const e of sample.blkio_stats.io_service_bytes_recursive ?? []) if (e.op.toLowerCase() === op) n += e.value;
  return Number(n);
}

export function registerContainerMetrics(metrics: DaemonMetrics, source: ContainerMetricsSource, opts: ContainerMetricsOptions = {}): void {
  const max = opts.maxContainers ?? 1000;
  const timeoutMs = opts.sampleTimeoutMs ?? 3000;
  const registers = [metrics.registry];
  const counter = (name: string, help: string, extra: string[] = []): Counter<string> =>
    new Counter({ name, help, labelNames: [...LABELS, ...extra], registers });
  const gauge = (name: string, help: string, extra: string[] = []): Gauge<string> =>
    new Gauge({ name, help, labelNames: [...LABELS, ...extra], registers });

  const cpu = counter('berth_container_cpu_usage_seconds_total', 'CPU time the container used');
  const memUsage = gauge('berth_container_memory_usage_bytes', 'Memory the container uses, page cache included (cgroup usage)');
  const memLimit = gauge('berth_container_memory_limit_bytes', "The container's memory limit (the host's memory when unlimited)");
  const pids = gauge('berth_container_pids', 'Processes and threads in the container');
  const rxBytes = counter('berth_container_network_receive_bytes_total', 'Bytes received, per interface', ['interface']);
  const txBytes = counter('berth_container_network_transmit_bytes_total', 'Bytes sent, per interface', ['interface']);
  const rxPackets = counter('berth_container_network_receive_packets_total', 'Packets received, per interface', ['interface']);
  const txPackets = counter('berth_container_network_transmit_packets_total', 'Packets sent, per interface', ['interface']);
  const blkRead = counter('berth_container_blkio_read_bytes_total', 'Bytes read from block devices');
  const blkWrite = counter('berth_container_blkio_write_bytes_total', 'Bytes written to block devices');
  const restarts = counter('berth_container_restarts_total', 'Times the restart policy restarted the container');
  const health = gauge('berth_container_health_status', 'The healthcheck status (1 for the current one)', ['status']);
  const running = gauge('berth_container_running', '1 while the container runs (paused included)');
  const omitted = new Gauge({
    name: 'berth_container_metrics_omitted',
    help: 'Containers left out of the per-container series by the bound on their number',
    registers,
  });
  const all = [cpu, memUsage, memLimit, pids, rxBytes, txBytes, rxPackets, txPackets, blkRead, blkWrite, restarts, health, running];

  metrics.beforeScrape(async () => {
    const listed = source.containers();
    // Running ones first: they are the ones whose figures move.
    const chosen = [...listed.filter((c) => c.running), ...listed.filter((c) => !c.running)].slice(0, max);
    omitted.set(listed.length - chosen.length);
    const samples = await source.samples(
      chosen.filter((c) => c.running && !c.paused).map((c) => c.id),
      timeoutMs,
    );
    for (const m of all) m.reset();
    for (const c of chosen) {
      const l: Record<Label, string> = { id: c.id, name: c.name, image: c.image };
      restarts.inc(l, c.restartCount);
      running.set(l, c.running ? 1 : 0);
      if (c.health) for (const s of HEALTH) health.set({ ...l, status: s }, c.health === s ? 1 : 0);
      const s = samples.get(c.id);
      if (!s) continue;
      cpu.inc(l, Number(s.cpu_stats.cpu_usage.total_usage) / 1e9);
      if (s.memory_stats.usage !== undefined) memUsage.set(l, Number(s.memory_stats.usage));
      if (s.memory_stats.limit !== undefined) memLimit.set(l, Number(s.memory_stats.limit));
      if (s.pids_stats.current !== undefined) pids.set(l, Number(s.pids_stats.current));
      blkRead.inc(l, blkio(s, 'read'));
      blkWrite.inc(l, blkio(s, 'write'));
      for (const [iface, n] of Object.entries(s.networks ?? {})) {
        const li = { ...l, interface: iface };
        rxBytes.inc(li, n.rx_bytes);
        txBytes.inc(li, n.tx_bytes);
        rxPackets.inc(li, n.rx_packets);
        txPackets.inc(li, n.tx_packets);
      }
    }
  });
}

/** dockerd's engine_daemon_container_states_containers: containers by state, read at scrape. */
export function registerContainerStates(metrics: DaemonMetrics, counts: () => { running: number; paused: number; stopped: number }): void {
  metrics.gauge('engine_daemon_container_states_containers', 'The count of containers in various states', ['state'], (set) => {
    const c = counts();
    set({ state: 'running' }, c.running);
    set({ state: 'paused' }, c.paused);
    set({ state: 'stopped' }, c.stopped);
  });
}
