// Container resource statistics, as dockerd's stats collector and stats_unix.go produce them:
// one shared collector per daemon polls the cgroup metrics of every container someone watches,
// once per second, and fans each sample out to all its subscribers; each subscriber keeps its
// own previous sample for precpu_stats/preread. Samples are shaped as the API's
// ContainerStatsResponse (64-bit counters kept as bigint; api/routes/stats.ts encodes them).

import { InvalidParameter } from '../../lib/errors';
import type { TaskMetrics } from '../../runtime/tasks';
import { nowRFC3339Nano } from '../../lib/time';
import {
  type ContainerStatsResponse,
  type CpuStats,
  type HostCpu,
  type NetworkCounters,
  STATS_INTERVAL_MS,
  type StatsSample,
  ZERO_TIME,
  emptyCpuStats,
  emptySample,
  parseProcStat,
  sampleFromV1,
  sampleFromV2,
} from './stats-sample';
export {
  type BlkioStatEntry,
  type BlkioStats,
  type ContainerStatsResponse,
  type CpuStats,
  type HostCpu,
  type MemoryStats,
  type NetworkCounters,
  type PidsStats,
  STATS_INTERVAL_MS,
  type StatsSample,
  ZERO_TIME,
  clockTicksPerSecond,
  emptyCpuStats,
  emptySample,
  hostMemoryBytes,
  machineMemory,
  parseProcStat,
  sampleFromV1,
  sampleFromV2,
} from './stats-sample';

/** The container facts the collector needs each tick. */
export interface StatsContainer {
  id: string;
  /** Without the leading slash. */
  name: string;
  /** Running or paused (dockerd's IsRunning), and not restarting. */
  running: boolean;
}

export interface StatsSources {
  /** By ID, name or prefix; throws NotFound. */
  lookup(input: string): StatsContainer;
  /** By full ID; undefined once the container is gone. */
  byId(id: string): StatsContainer | undefined;
  /** Cgroup metrics of the given tasks (one containerd call); missing ones have no task. */
  metrics(ids: string[]): Promise<Map<string, TaskMetrics>>;
  /** /proc/stat's text. */
  procStat(): Promise<string>;
  /** Interface counters of the given running containers (one read for all); absent: none. */
  networks?(ids: string[]): Promise<Map<string, Record<string, NetworkCounters>>>;
  machineMemory: bigint;
  clockTicksPerSecond: number;
  onError(err: unknown, id?: string): void;
}

type Listener = (sample: StatsSample, c: StatsContainer) => void;

/**
 * One poll per watched container per interval, however many clients watch it; the timer runs
 * only while someone listens (moby's stats.Collector).
 */
export class StatsCollector {
  private readonly subscribers = new Map<string, Set<{ listener: Listener; gone: () => void }>>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;

  constructor(private readonly sources: StatsSources) {}

  /** Samples of container `id` from the next tick on, until the returned function is called. */
  subscribe(id: string, listener: Listener, gone: () => void): () => void {
    let set = this.subscribers.get(id);
    if (!set) {
      set = new Set();
      this.subscribers.set(id, set);
    }
    const entry = { listener, gone };
    set.add(entry);
    // An idle collector collects at once (moby wakes its loop), later ticks keep the interval.
    if (!this.timer && !this.polling && !this.closed) this.schedule(0);
    return () => {
      const s = this.subscribers.get(id);
      if (!s) return;
      s.delete(entry);
      if (s.size === 0) this.subscribers.delete(id);
      if (this.subscribers.size === 0 && this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
    };
  }

  /**
   * One sample of each of `ids` from the shared collector's next tick (a scrape rides on the
   * polls streams already cause, and causes one when idle). Containers gone meanwhile are left
   * out; whatever has not arrived after `timeoutMs` is left out too.
   */
  sampleOnce(ids: readonly string[], timeoutMs: number): Promise<Map<string, StatsSample>> {
    const out = new Map<string, StatsSample>();
    if (ids.length === 0 || this.closed) return Promise.resolve(out);
    return new Promise((resolve) => {
      let pending = ids.length;
      const unsubscribes: Array<() => void> = [];
      const settle = (): void => {
        clearTimeout(timer);
        for (const u of unsubscribes) u();
        resolve(out);
      };
      const timer = setTimeout(settle, timeoutMs);
      timer.unref();
      for (const id of ids) {
        let seen = false;
        const arrive = (sample?: StatsSample): void => {
          if (seen) return;
          seen = true;
          if (sample) out.set(id, sample);
          pending -= 1;
          if (pending === 0) settle();
        };
        unsubscribes.push(
          this.subscribe(
            id,
            (sample) => arrive(sample),
            () => arrive(),
          ),
        );
      }
    });
  }

  /** How many containers are being polled (for tests and the benchmark). */
  watchedCount(): number {
    return this.subscribers.size;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const set of this.subscribers.values()) for (const e of set) e.gone();
    this.subscribers.clear();
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick().catch((err: unknown) => this.sources.onError(err));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.polling = true;
    const started = Date.now();
    try {
      await this.collect();
    } catch (err) {
      this.sources.onError(err);
    } finally {
      this.polling = false;
    }
    if (this.subscribers.size > 0 && !this.closed && !this.timer) {
      this.schedule(Math.max(0, STATS_INTERVAL_MS - (Date.now() - started)));
    }
  }

  private async collect(): Promise<void> {
    const watched: StatsContainer[] = [];
    for (const id of [...this.subscribers.keys()]) {
      const c = this.sources.byId(id);
      if (c) {
        watched.push(c);
        continue;
      }
      // Removed: its streams end, as when moby stops collecting for a deleted container.
      const set = this.subscribers.get(id);
      this.subscribers.delete(id);
      for (const e of set ?? []) e.gone();
    }
    const runningIds = watched.filter((c) => c.running).map((c) => c.id);
    let metrics = new Map<string, TaskMetrics>();
    let nets = new Map<string, Record<string, NetworkCounters>>();
    let host: HostCpu | undefined;
    if (runningIds.length > 0) {
      if (this.sources.networks) {
        try {
          nets = await this.sources.networks(runningIds);
        } catch (err) {
          this.sources.onError(err);
        }
      }
      try {
        metrics = await this.sources.metrics(runningIds);
      } catch (err) {
        this.sources.onError(err);
      }
      try {
        host = parseProcStat(await this.sources.procStat(), this.sources.clockTicksPerSecond);
      } catch (err) {
        this.sources.onError(err);
      }
    }
    const read = nowRFC3339Nano();
    for (const c of watched) {
      const m = c.running ? metrics.get(c.id) : undefined;
      let sample: StatsSample;
      if (!m) {
        // Not running or no task (just exited): name and ID only, as dockerd publishes.
        sample = emptySample();
      } else {
        sample =
          m.cgroup === 'v1'
            ? sampleFromV1(m.data, read, this.sources.machineMemory)
            : sampleFromV2(m.data, read, this.sources.machineMemory);
        if (host) {
          if (host.systemUsage !== 0n) sample.cpu_stats.system_cpu_usage = host.systemUsage;
          if (host.onlineCpus !== 0) sample.cpu_stats.online_cpus = host.onlineCpus;
        }
        const n = nets.get(c.id);
        if (n) sample.networks = n;
      }
      for (const e of [...(this.subscribers.get(c.id) ?? [])]) {
        try {
          e.listener(sample, c);
        } catch (err) {
          this.sources.onError(err, c.id);
        }
      }
    }
  }
}

export interface StatsOptions {
  /** Keep sending a sample each interval (default true). */
  stream: boolean;
  /** With stream=false: the first sample, without waiting for a second to fill precpu. */
  oneShot: boolean;
  /** The client's API version decides os_type (1.48+). */
  withOsType: boolean;
}

export interface StatsSink {
  sample(s: ContainerStatsResponse): void;
  /** No more samples will come. */
  end(): void;
}

/** The daemon's stats: per-request framing of the shared collector's samples. */
export class StatsService {
  private readonly collector: StatsCollector;

  constructor(private readonly sources: StatsSources) {
    this.collector = new StatsCollector(sources);
  }

  /**
   * Starts delivering samples of container `input` to `sink` as dockerd's ContainerStats does;
   * returns the function that stops it. Throws NotFound / InvalidParameter before any sample.
   */
  open(input: string, opts: StatsOptions, sink: StatsSink): () => void {
    const c = this.sources.lookup(input);
    if (opts.stream && opts.oneShot) throw new InvalidParameter('cannot have stream=true and one-shot=true');
    const shape = (s: StatsSample, name: string, pre: { read: string; cpu: CpuStats }): ContainerStatsResponse => ({
      name: `/${name}`,
      id: c.id,
      ...(opts.withOsType ? { os_type: 'linux' } : {}),
      read: s.read,
      cpu_stats: s.cpu_stats,
      memory_stats: s.memory_stats,
      pids_stats: s.pids_stats,
      blkio_stats: s.blkio_stats,
      ...(s.networks ? { networks: s.networks } : {}),
      num_procs: 0,
      storage_stats: {},
      preread: pre.read,
      precpu_stats: pre.cpu,
    });
    if (!opts.stream && !c.running) {
      // No wait for a stopped container: one zeroed sample with name and ID.
      sink.sample(shape(emptySample(), c.name, { read: ZERO_TIME, cpu: emptyCpuStats() }));
      sink.end();
      return () => undefined;
    }
    let pre = { read: ZERO_TIME, cpu: emptyCpuStats() };
    // stream=false waits for a second sample so precpu is filled; one-shot takes the first.
    let skipFirst = !opts.stream && !opts.oneShot;
    let done = false;
    let unsubscribe: () => void = () => undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      unsubscribe();
      sink.end();
    };
    unsubscribe = this.collector.subscribe(
      c.id,
      (s, current) => {
        if (done) return;
        const out = shape(s, current.name, pre);
        pre = { read: s.read, cpu: s.cpu_stats };
        if (skipFirst) {
          skipFirst = false;
          return;
        }
        sink.sample(out);
        if (!opts.stream) finish();
      },
      finish,
    );
    return () => {
      done = true;
      unsubscribe();
    };
  }

  /** One sample of each of `ids`, from the shared collector (see StatsCollector.sampleOnce). */
  sampleOnce(ids: readonly string[], timeoutMs: number): Promise<Map<string, StatsSample>> {
    return this.collector.sampleOnce(ids, timeoutMs);
  }

  /** Containers currently polled by the collector. */
  watchedCount(): number {
    return this.collector.watchedCount();
  }

  close(): void {
    this.collector.close();
  }
}
