// What the container queries answer: inspect (ContainerInspectResponse), list (ContainerSummary)
// and its filters, shaped from a container's record and state.
import { InvalidParameter } from '../errors';
import type { ContainerInspectResponse, ContainerSummary } from './api-types';
import { statusName, statusText, type StatusName } from './model';
import type { Container } from './service';

export function inspectView(c: Container, extra: { graphDriverData: Record<string, string> | null; sizeRw?: number; sizeRootFs?: number }): ContainerInspectResponse {
  const r = c.record;
  const s = c.state;
  const view: ContainerInspectResponse = {
    Id: r.id,
    Created: r.created,
    Path: r.path,
    Args: r.args,
    State: {
      Status: statusName(s),
      Running: s.running,
      Paused: s.paused,
      Restarting: s.restarting,
      OOMKilled: s.oomKilled,
      Dead: s.dead,
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt,
      FinishedAt: s.finishedAt,
      ...(s.health ? { Health: s.health } : {}),
    },
    Image: r.imageId,
    ResolvConfPath: r.resolvConfPath,
    HostnamePath: r.hostnamePath,
    HostsPath: r.hostsPath,
    LogPath: r.logPath,
    Name: `/${r.name}`,
    RestartCount: s.restartCount ?? 0,
    Driver: 'overlayfs',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: r.hostConfig,
    GraphDriver: { Name: 'overlayfs', Data: extra.graphDriverData ?? {} },
    Mounts: [],
    Config: r.config,
    NetworkSettings: {
      SandboxID: '',
      SandboxKey: '',
      Ports: {},
      Networks: {},
    },
  };
  if (extra.sizeRw !== undefined) view.SizeRw = extra.sizeRw;
  if (extra.sizeRootFs !== undefined) view.SizeRootFs = extra.sizeRootFs;
  return view;
}

export function commandLine(c: Container): string {
  const args = c.record.args.map((a) => a);
  return [c.record.path, ...args].join(' ');
}

export function summaryView(c: Container, imageShown: string, sizes?: { rw: number; rootFs: number }): ContainerSummary {
  const r = c.record;
  const v: ContainerSummary = {
    Id: r.id,
    Names: [`/${r.name}`],
    Image: imageShown,
    ImageID: r.imageId,
    Command: commandLine(c),
    Created: Math.floor(Date.parse(r.created) / 1000),
    Ports: [],
    Labels: r.config.Labels ?? {},
    State: statusName(c.state),
    Status: statusText(c.state),
    HostConfig: { NetworkMode: r.hostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: {} },
    Mounts: [],
  };
  if (sizes) {
    v.SizeRw = sizes.rw;
    v.SizeRootFs = sizes.rootFs;
  }
  return v;
}

const STATUSES: readonly StatusName[] = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH = ['starting', 'healthy', 'unhealthy', 'none'];

/** The list filters, checked and parsed (dockerd's foldFilter). */
export interface ListFilterInput {
  get(key: string): string[];
  has(key: string): boolean;
  match(key: string, value: string): boolean;
  exactMatch(key: string, value: string): boolean;
  matchKVList(key: string, labels: Readonly<Record<string, string>> | undefined): boolean;
}

export interface ListOptions {
  all: boolean;
  limit: number;
  size: boolean;
  filters: ListFilterInput;
}

export function invalidFilterValue(key: string, value: string): InvalidParameter {
  return new InvalidParameter(`invalid filter '${key}=${value}'`);
}

export interface ListPlan {
  all: boolean;
  exited: number[];
  before?: string;
  since?: string;
  isTask?: boolean;
}

export function planList(opts: ListOptions, resolveId: (input: string) => string): ListPlan {
  const f = opts.filters;
  let all = opts.all;
  for (const v of f.get('status')) {
    if (!STATUSES.includes(v as StatusName)) throw invalidFilterValue('status', v);
    all = true;
  }
  const exited: number[] = [];
  for (const v of f.get('exited')) {
    if (!/^-?\d+$/.test(v)) throw invalidFilterValue('exited', v);
    exited.push(Number(v));
  }
  if (exited.length > 0) all = true;
  for (const v of f.get('health')) {
    if (!HEALTH.includes(v)) throw new InvalidParameter(`Unrecognised filter value for health: ${v}`);
  }
  let isTask: boolean | undefined;
  if (f.has('is-task')) {
    if (f.exactMatch('is-task', 'true')) isTask = true;
    else if (f.exactMatch('is-task', 'false')) isTask = false;
    else throw invalidFilterValue('is-task', f.get('is-task').join(','));
  }
  const before = f.get('before').map(resolveId).pop();
  const since = f.get('since').map(resolveId).pop();
  return { all, exited, before, since, isTask };
}

/**
 * Applies the filters to containers sorted newest first, in dockerd's order (before/since act as
 * cursors over that order; limit counts what was included).
 */
export function filterContainers(
  sorted: Container[],
  opts: ListOptions,
  plan: ListPlan,
  ancestorMatch: (c: Container) => boolean,
): Container[] {
  const f = opts.filters;
  const out: Container[] = [];
  let before = plan.before;
  for (const c of sorted) {
    const running = c.state.running;
    if (!running && !plan.all && opts.limit <= 0 && before === undefined && plan.since === undefined) continue;
    if (!f.match('name', `/${c.record.name}`) && !f.match('name', c.record.name)) continue;
    if (!f.match('id', c.record.id)) continue;
    if (plan.isTask === true) continue; // no swarm tasks here
    if (opts.limit > 0 && out.length === opts.limit) break;
    if (before !== undefined) {
      if (c.record.id === before) before = undefined;
      continue;
    }
    if (plan.since !== undefined && c.record.id === plan.since) break;
    if (!f.matchKVList('label', c.record.config.Labels ?? {})) continue;
    if (plan.exited.length > 0) {
      const ok = !running && c.state.startedAt !== '0001-01-01T00:00:00Z' && plan.exited.includes(c.state.exitCode);
      if (!ok) continue;
    }
    if (!f.match('status', statusName(c.state))) continue;
    if (f.has('health')) {
      const h = c.state.health?.Status ?? 'none';
      if (!f.exactMatch('health', h)) continue;
    }
    if (f.has('ancestor') && !ancestorMatch(c)) continue;
    if (f.has('volume') || f.has('network') || f.has('publish')) {
      // No volumes, networks or published ports exist yet: such filters match nothing.
      continue;
    }
    if (f.has('expose')) {
      const exposed = Object.keys(c.record.config.ExposedPorts ?? {});
      const wanted = f.get('expose').map((p) => (p.includes('/') ? p : `${p}/tcp`));
      if (!wanted.some((w) => exposed.includes(w))) continue;
    }
    out.push(c);
  }
  return out;
}
