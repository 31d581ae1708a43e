// What the web dashboard (`--dashboard-addr`, api/dashboard-server.ts) reads and does, in the
// daemon's terms: the container list as `docker ps -a` sees it, changes from the event bus, a
// container's log followed, its stats stream reduced to the figures the charts draw, and the
// start/stop/restart/remove actions. Every one goes through the same services the Engine API
// uses (the same ContainerService and StatsService objects, metrics wrappers included), so the
// dashboard can do nothing the API could not, and every action is an event like any other.

import type { ContainerSummary, PortSummary } from '../containers/api-types';
import type { ReadOptions } from '../logs/container-logs';
import type { LogEntry } from '../logs/types';
import type { ContainerStatsResponse, StatsOptions, StatsSink } from '../containers/stats';
import { NO_FILTERS, type ListOptions } from '../containers/views';
import type { EventBus } from '../events';
import { InvalidParameter } from '../../lib/errors';
import { statsFigures, type DashboardStats } from './figures';

export type { DashboardStats } from './figures';

export interface DashboardContainer {
  id: string;
  name: string;
  image: string;
  /** created, running, paused, restarting, removing, exited, dead */
  state: string;
  /** `docker ps`' STATUS column, e.g. "Up 5 seconds (healthy)". */
  status: string;
  /** none, starting, healthy, unhealthy */
  health: string;
  /** As `docker ps` prints them: "127.0.0.1:8080->80/tcp", "80/tcp". */
  ports: string[];
  /** RFC 3339 start of the current run, or null when not running. */
  startedAt: string | null;
}

export interface DashboardLogLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

export const DASHBOARD_ACTIONS = ['start', 'stop', 'restart', 'remove'] as const;
export type DashboardAction = (typeof DASHBOARD_ACTIONS)[number];

export interface DashboardBackend {
  containers(): Promise<DashboardContainer[]>;
  /** Calls `changed` after each container event; returns the function that stops it. */
  watch(changed: () => void): () => void;
  /** The last `tail` lines of a container's log, then new ones until it stops or `signal` aborts. Throws NotFound. */
  logs(id: string, tail: number, signal: AbortSignal): AsyncIterable<DashboardLogLine>;
  /** One figure set a second until the returned function is called; `end` when the stream ends. Throws NotFound. */
  stats(id: string, sample: (s: DashboardStats) => void, end: () => void): () => void;
  /** Throws the services' typed errors (NotFound, Conflict, ...). */
  act(id: string, action: string): Promise<void>;
}

/** The service methods the dashboard uses: those of the objects the Engine API is given. */
export interface DashboardServices {
  containers: {
    list(req: ListOptions): Promise<ContainerSummary[]>;
    tryGetById(id: string): { state: { running: boolean; startedAt: string } } | undefined;
    readLogs(input: string, opts: ReadOptions): AsyncIterable<LogEntry>;
    start(input: string): Promise<void>;
    stop(input: string, opts: { signal?: string; timeoutSec?: number }): Promise<void>;
    restart(input: string, opts: { signal?: string; timeoutSec?: number }): Promise<void>;
    remove(input: string, opts: { force: boolean; volumes: boolean }): Promise<void>;
  };
  stats: { open(input: string, opts: StatsOptions, sink: StatsSink): () => void };
  events: Pick<EventBus, 'subscribe'>;
}

export function portText(p: PortSummary): string {
  if (p.PublicPort === undefined) return `${p.PrivatePort}/${p.Type}`;
  const ip = p.IP?.includes(':') ? `[${p.IP}]` : (p.IP ?? '');
  return `${ip}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`;
}

export function dashboardBackend(svc: DashboardServices): DashboardBackend {
  return {
    async containers() {
      const list = await svc.containers.list({ all: true, limit: 0, size: false, filters: NO_FILTERS });
      return list.map((s) => {
        const id = s.Id ?? '';
        const live = svc.containers.tryGetById(id);
        return {
          id,
          name: (s.Names?.[0] ?? '').replace(/^\//, ''),
          image: s.Image ?? '',
          state: s.State ?? '',
          status: s.Status ?? '',
          health: s.Health?.Status ?? 'none',
          ports: (s.Ports ?? []).map(portText),
          startedAt: live?.state.running ? live.state.startedAt : null,
        };
      });
    },
    watch(changed) {
      return svc.events.subscribe((ev) => {
        if (ev.Type === 'container') changed();
      });
    },
    logs(id, tail, signal) {
      // Called at once, so an unknown container throws before anything is streamed.
      const entries = svc.containers.readLogs(id, { stdout: true, stderr: true, follow: true, tail, signal });
      return (async function* (): AsyncGenerator<DashboardLogLine> {
        for await (const e of entries) yield { stream: e.stream, text: e.line.toString('utf8') };
      })();
    },
    stats(id, sample, end) {
      const sink: StatsSink = { sample: (s: ContainerStatsResponse) => sample(statsFigures(s)), end };
      return svc.stats.open(id, { stream: true, oneShot: false, withOsType: false }, sink);
    },
    async act(id, action) {
      switch (action) {
        case 'start':
          return svc.containers.start(id);
        case 'stop':
          return svc.containers.stop(id, {});
        case 'restart':
          return svc.containers.restart(id, {});
        case 'remove':
          return svc.containers.remove(id, { force: true, volumes: false });
        default:
          throw new InvalidParameter(`unknown dashboard action "${action}"`);
      }
    },
  };
}
