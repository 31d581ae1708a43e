// The scheduler (swarmkit's manager/scheduler): a pending task gets a node that passes the filter
// pipeline (ready and active, reservations left, constraints, platform, host-mode ports, max
// replicas per node), spread over the preference labels, then the node with the fewest tasks of
// the service, then the fewest tasks. When none fits the task stays pending with Err
// "no suitable node (<filters that failed, most failures first>)" in swarmkit's words.
import { nodeAttribute, nodeMatches, parseConstraints, type Constraint } from './constraint';
import { hasEnded, isRunnable } from './task';
import type { Node, Service, Task, TaskStatus } from './types';
import { iso } from './types';
import type { Working } from './working';
import { compareStrings } from '../../../lib/order';

interface NodeInfo {
  node: Node;
  tasks: number;
  perService: Map<string, number>;
  cpu: number;
  mem: number;
  ports: Set<string>;
}

/** Tasks that hold a node's resources: placed, wanted by the orchestrator and not ended. */
function holds(t: Task): boolean {
  const placed = t.Status?.State !== 'pending' && t.Status?.State !== 'new';
  return (t.NodeID ?? '') !== '' && placed && isRunnable(t) && !hasEnded(t);
}

/** Published ports a task holds on its node: host mode, and ingress (published in host mode by Berth). */
function hostPorts(service: Service | undefined): string[] {
  return (service?.Spec?.EndpointSpec?.Ports ?? [])
    .filter((p) => (p.PublishedPort ?? 0) !== 0)
    .map((p) => `${p.PublishedPort}/${p.Protocol ?? 'tcp'}`);
}

function buildInfos(w: Working): Map<string, NodeInfo> {
  const infos = new Map<string, NodeInfo>();
  for (const n of w.nodes.values()) infos.set(n.ID ?? '', { node: n, tasks: 0, perService: new Map(), cpu: 0, mem: 0, ports: new Set() });
  for (const t of w.tasks.values()) if (holds(t)) add(infos.get(t.NodeID ?? ''), t, w.services.get(t.ServiceID ?? ''));
  return infos;
}

function add(info: NodeInfo | undefined, t: Task, service: Service | undefined): void {
  if (info === undefined) return;
  const sid = t.ServiceID ?? '';
  info.tasks++;
  info.perService.set(sid, (info.perService.get(sid) ?? 0) + 1);
  const r = t.Spec?.Resources?.Reservations;
  info.cpu += r?.NanoCPUs ?? 0;
  info.mem += r?.MemoryBytes ?? 0;
  for (const p of hostPorts(service)) info.ports.add(p);
}

const ARCH: Record<string, string> = { x86_64: 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };
const arch = (a: string): string => ARCH[a.toLowerCase()] ?? a.toLowerCase();

interface Filter {
  explain(n: number): string;
  check(i: NodeInfo): boolean;
}

function pipeline(t: Task, service: Service | undefined, constraints: Constraint[]): Filter[] {
  const plural = (n: number, one: string, many: string): string => (n === 1 ? one : many.replace('%d', String(n)));
  const res = t.Spec?.Resources?.Reservations;
  const cpu = res?.NanoCPUs ?? 0;
  const mem = res?.MemoryBytes ?? 0;
  const platforms = t.Spec?.Placement?.Platforms ?? [];
  const ports = hostPorts(service);
  const maxReplicas = t.Spec?.Placement?.MaxReplicas ?? 0;
  const sid = t.ServiceID ?? '';
  const filters: Filter[] = [
    {
      check: (i) => i.node.Status?.State === 'ready' && (i.node.Spec?.Availability ?? 'active') === 'active',
      explain: (n) => plural(n, '1 node not available for new tasks', '%d nodes not available for new tasks'),
    },
  ];
  if (cpu !== 0 || mem !== 0)
    filters.push({
      check: (i) => {
        const r = i.node.Description?.Resources;
        return cpu <= (r?.NanoCPUs ?? 0) - i.cpu && mem <= (r?.MemoryBytes ?? 0) - i.mem;
      },
      explain: (n) => plural(n, 'insufficient resources on 1 node', 'insufficient resources on %d nodes'),
    });
  if (constraints.length > 0)
    filters.push({
      check: (i) => nodeMatches(constraints, i.node),
      explain: (n) => plural(n, 'scheduling constraints not satisfied on 1 node', 'scheduling constraints not satisfied on %d nodes'),
    });
  if (platforms.length > 0)
    filters.push({
      check: (i) => {
        const p = i.node.Description?.Platform;
        return platforms.some(
          (want) =>
            ((want.OS ?? '') === '' || want.OS?.toLowerCase() === (p?.OS ?? '').toLowerCase()) &&
            ((want.Architecture ?? '') === '' || arch(want.Architecture ?? '') === arch(p?.Architecture ?? '')),
        );
      },
      explain: (n) => plural(n, 'unsupported platform on 1 node', 'unsupported platform on %d nodes'),
    });
  if (ports.length > 0)
    filters.push({
      check: (i) => ports.every((p) => !i.ports.has(p)),
      explain: (n) => plural(n, 'host-mode port already in use on 1 node', 'host-mode port already in use on %d nodes'),
    });
  if (maxReplicas > 0)
    filters.push({
      check: (i) => (i.perService.get(sid) ?? 0) < maxReplicas,
      explain: () => 'max replicas per node limit exceed',
    });
  return filters;
}

/** Runs the pipeline over the nodes: the ones passing, and the explanation if none does. */
function filterNodes(filters: Filter[], infos: NodeInfo[]): { ok: NodeInfo[]; explanation: string } {
  const failures = filters.map(() => 0);
  const ok: NodeInfo[] = [];
  for (const i of infos) {
    const bad = filters.findIndex((f) => !f.check(i));
    if (bad === -1) ok.push(i);
    else failures[bad] = (failures[bad] ?? 0) + 1;
  }
  const explanation = filters
    .map((f, k) => ({ f, n: failures[k] ?? 0, k }))
    .filter((e) => e.n > 0)
    .sort((a, b) => b.n - a.n || a.k - b.k)
    .map((e) => e.f.explain(e.n))
    .join('; ');
  return { ok, explanation };
}

function nodeLess(sid: string): (a: NodeInfo, b: NodeInfo) => number {
  return (a, b) =>
    (a.perService.get(sid) ?? 0) - (b.perService.get(sid) ?? 0) || a.tasks - b.tasks || compareStrings(a.node.ID ?? '', b.node.ID ?? '');
}

/** Spread preferences: at each level keep the label value whose nodes hold the fewest tasks of the service. */
function spread(t: Task, infos: NodeInfo[]): NodeInfo[] {
  let pool = infos;
  const sid = t.ServiceID ?? '';
  for (const pref of t.Spec?.Placement?.Preferences ?? []) {
    const key = pref.Spread?.SpreadDescriptor ?? '';
    if (key === '' || pool.length <= 1) continue;
    const groups = new Map<string, NodeInfo[]>();
    for (const i of pool) {
      const v = nodeAttribute(key, i.node) ?? '';
      groups.set(v, [...(groups.get(v) ?? []), i]);
    }
    const count = (g: NodeInfo[]): number => g.reduce((s, i) => s + (i.perService.get(sid) ?? 0), 0);
    const best = [...groups.entries()].sort((a, b) => count(a[1]) - count(b[1]) || compareStrings(a[0], b[0]))[0];
    if (best !== undefined) pool = best[1];
  }
  return pool;
}

function pendingOrder(a: Task, b: Task): number {
  return (
    compareStrings(a.ServiceID ?? '', b.ServiceID ?? '') ||
    (a.Slot ?? 0) - (b.Slot ?? 0) ||
    compareStrings(a.CreatedAt ?? '', b.CreatedAt ?? '') ||
    compareStrings(a.ID ?? '', b.ID ?? '')
  );
}

/** Places every pending task it can; records why the others cannot be placed. */
export function schedule(w: Working): void {
  const infos = buildInfos(w);
  // a task the orchestrator gave up before it was placed will never run: it is shut down here
  for (const t of w.tasks.values()) {
    const s = t.Status?.State;
    if (isRunnable(t) || (s !== 'pending' && s !== 'new')) continue;
    w.setStatus(t, { Timestamp: iso(w.now), State: 'shutdown', Message: t.Status?.Message ?? 'pending task scheduling' });
  }
  const pending = [...w.tasks.values()]
    .filter((t) => isRunnable(t) && (t.Status?.State === 'pending' || t.Status?.State === 'new'))
    .sort(pendingOrder);
  for (const t of pending) {
    const service = w.services.get(t.ServiceID ?? '');
    let constraints: Constraint[];
    try {
      constraints = parseConstraints(t.Spec?.Placement?.Constraints);
    } catch {
      constraints = [];
    }
    const filters = pipeline(t, service, constraints);
    const preassigned = t.NodeID ?? '';
    const candidates = preassigned !== '' ? [infos.get(preassigned)].filter((i) => i !== undefined) : [...infos.values()];
    const { ok, explanation } = filterNodes(filters, candidates);
    const chosen = spread(t, ok).sort(nodeLess(t.ServiceID ?? ''))[0];
    if (chosen === undefined) {
      // swarmkit words a preassigned (global) task's misfit as the bare explanation
      const err = preassigned !== '' ? explanation : explanation === '' ? 'no suitable node' : `no suitable node (${explanation})`;
      if (t.Status?.Err === err) continue;
      const status: TaskStatus = {
        Timestamp: iso(w.now),
        State: 'pending',
        Message: t.Status?.Message ?? 'pending task scheduling',
        Err: err,
      };
      w.setStatus(t, status);
      continue;
    }
    const message = preassigned !== '' ? 'scheduler confirmed task can run on preassigned node' : 'scheduler assigned task to node';
    w.assign(t, chosen.node.ID ?? '', { Timestamp: iso(w.now), State: 'assigned', Message: message });
    add(chosen, t, service);
  }
}
