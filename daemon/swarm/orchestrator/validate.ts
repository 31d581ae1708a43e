// Service spec validation, in the order and words of dockerd: its convert step
// (daemon/cluster/convert/service.go) first, then swarmkit's controlapi validateServiceSpec, then
// what Berth's swarm mode refuses (job services; docs/swarm.md). VIP resolution and ingress
// published ports are accepted: `vip` behaves as dnsrr (no virtual IP), ingress ports are published
// in host mode on the node running each task (docs/divergence.md).
// Secret/config/network existence and name uniqueness need the store: the API wiring checks them.
import { InvalidParameter, NotImplemented } from '../../../lib/errors';
import { parseNormalizedNamed } from '../../images/reference';
import { parseConstraints } from './constraint';
import { normalizeServiceSpec } from './defaults';
import type { Service, ServiceSpec, TaskSpec, UpdateConfig } from './types';

const DNS_NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;
const MIN_DURATION_NS = 1e6;

export const JOBS_REFUSED = "replicated-job and global-job services are not supported by Berth's swarm mode";

function bad(msg: string): never {
  throw new InvalidParameter(msg);
}

/** dockerd's convert step: the errors it raises turning the request into swarmkit's spec. */
function validateConvert(spec: ServiceSpec): void {
  const t = spec.TaskTemplate ?? {};
  const r = t.Resources;
  if (r?.SwapBytes !== undefined && r.SwapBytes !== null && (r.Limits?.MemoryBytes ?? 0) === 0)
    bad('memory swap provided, but no memory-limit was set');
  const runtime = t.Runtime ?? '';
  if (runtime === 'container' || runtime === '') {
    if (t.ContainerSpec === undefined) bad('mismatched Runtime and *Spec fields');
  } else if (runtime === 'plugin') {
    if (t.PluginSpec === undefined) bad('mismatched Runtime and *Spec fields');
    if (spec.Mode?.Replicated !== undefined) bad('plugins must not use replicated mode');
    bad('plugin services are not supported by Berth');
  } else bad('unsupported runtime');
  const cond = t.RestartPolicy?.Condition as string | undefined;
  if (cond !== undefined && cond !== '' && !['none', 'on-failure', 'any'].includes(cond)) bad(`invalid RestartCondition: "${cond}"`);
  for (const u of [spec.UpdateConfig, spec.RollbackConfig] as (UpdateConfig | undefined)[]) {
    if (u === undefined) continue;
    const fa = u.FailureAction as string | undefined;
    if (fa !== undefined && fa !== '' && !['pause', 'continue', 'rollback'].includes(fa)) bad(`unrecognized update failure action ${fa}`);
    const order = u.Order as string | undefined;
    if (order !== undefined && order !== '' && !['stop-first', 'start-first'].includes(order)) bad(`unrecognized update order ${order}`);
  }
  const epMode = spec.EndpointSpec?.Mode as string | undefined;
  if (epMode !== undefined && epMode !== '' && epMode !== 'vip' && epMode !== 'dnsrr') bad(`invalid resolution mode: "${epMode}"`);
  const m = spec.Mode ?? {};
  const modes = [m.Global, m.Replicated, m.ReplicatedJob, m.GlobalJob].filter((x) => x !== undefined && x !== null);
  if (modes.length > 1) bad('must specify only one service mode');
}

function validateResources(r: { NanoCPUs?: number; MemoryBytes?: number } | undefined): void {
  if (r === undefined) return;
  const cpu = r.NanoCPUs ?? 0;
  if (cpu !== 0 && cpu < 1e6) bad(`invalid cpu value ${goFloat(cpu / 1e9)}: Must be at least 0.001`);
  const mem = r.MemoryBytes ?? 0;
  if (mem !== 0 && mem < 4 * 1024 * 1024) bad(`invalid memory value ${mem}: Must be at least 4MiB`);
}

/** Go's %g for the small numbers validateResources prints (exponent form below 1e-4). */
function goFloat(v: number): string {
  if (v === 0 || Math.abs(v) >= 1e-4) return String(v);
  const [mant, exp] = v.toExponential().split('e');
  const e = Number(exp);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

function validateTaskSpec(t: TaskSpec): void {
  validateResources(t.Resources?.Limits);
  validateResources(t.Resources?.Reservations);
  const rp = t.RestartPolicy;
  if ((rp?.Delay ?? 0) < 0) bad('TaskSpec: restart-delay cannot be negative');
  if ((rp?.Window ?? 0) < 0) bad('TaskSpec: restart-window cannot be negative');
  try {
    parseConstraints(t.Placement?.Constraints);
  } catch (err) {
    bad((err as Error).message);
  }
  const c = t.ContainerSpec;
  if (c === undefined) return;
  const targets = new Map<string, string>();
  for (const s of c.Secrets ?? []) {
    if ((s.SecretID ?? '') === '' || (s.SecretName ?? '') === '') bad('malformed secret reference');
    if (s.File === undefined) bad('malformed secret reference, no target provided');
    const name = s.File.Name ?? '';
    if (name === '') bad('malformed file secret reference, invalid target file name provided');
    const prev = targets.get(name);
    if (prev !== undefined) bad(`secret references '${prev}' and '${s.SecretName}' have a conflicting target: '${name}'`);
    targets.set(name, s.SecretName ?? '');
  }
  targets.clear();
  for (const cf of c.Configs ?? []) {
    if ((cf.ConfigID ?? '') === '' || (cf.ConfigName ?? '') === '') bad('malformed config reference');
    if (cf.File === undefined && cf.Runtime === undefined) bad('malformed config reference, no target provided');
    if (cf.File === undefined) continue;
    const name = cf.File.Name ?? '';
    if (name === '') bad('malformed file config reference, invalid target file name provided');
    const prev = targets.get(name);
    if (prev !== undefined) bad(`config references '${prev}' and '${cf.ConfigName}' have a conflicting target: '${name}'`);
    targets.set(name, cf.ConfigName ?? '');
  }
  const image = c.Image ?? '';
  if (image === '') bad('ContainerSpec: image reference must be provided');
  try {
    parseNormalizedNamed(image);
  } catch {
    bad(`ContainerSpec: ${JSON.stringify(image)} is not a valid repository/tag`);
  }
  const mounts = new Set<string>();
  for (const m of c.Mounts ?? []) {
    const target = m.Target ?? '';
    if (mounts.has(target)) bad(`ContainerSpec: duplicate mount point: ${target}`);
    mounts.add(target);
  }
  const hc = c.HealthCheck;
  if (hc !== undefined) {
    for (const [field, v] of [
      ['Interval', hc.Interval],
      ['Timeout', hc.Timeout],
      ['StartPeriod', hc.StartPeriod],
      ['StartInterval', hc.StartInterval],
    ] as const) {
      if (v !== undefined && v !== 0 && v < MIN_DURATION_NS) bad(`ContainerSpec: ${field} in HealthConfig cannot be less than 1ms`);
    }
    if ((hc.Retries ?? 0) < 0) bad('ContainerSpec: Retries in HealthConfig cannot be negative');
  }
}

function validateUpdateConfig(u: UpdateConfig | undefined): void {
  if (u === undefined) return;
  if ((u.Delay ?? 0) < 0) bad('TaskSpec: update-delay cannot be negative');
  if ((u.Monitor ?? 0) < 0) bad('TaskSpec: update-monitor cannot be negative');
  const r = u.MaxFailureRatio ?? 0;
  if (r < 0 || r > 1) bad('TaskSpec: update-maxfailureratio cannot be less than 0 or bigger than 1');
}

function validateEndpoint(spec: ServiceSpec): void {
  const ep = spec.EndpointSpec;
  if (ep === undefined) return;
  const seen = new Set<string>();
  for (const p of ep.Ports ?? []) {
    const mode = p.PublishMode ?? 'ingress';
    if (ep.Mode === 'dnsrr' && mode === 'ingress') bad("EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
    if ((p.PublishedPort ?? 0) === 0) continue;
    const key = `${p.PublishedPort}/${p.Protocol ?? 'tcp'}`;
    if (seen.has(key)) bad('EndpointSpec: duplicate published ports provided');
    seen.add(key);
  }
}

/** Validates a create or update request body; throws InvalidParameter with dockerd's text. */
export function validateServiceSpec(spec: ServiceSpec): void {
  validateConvert(spec);
  const name = spec.Name ?? '';
  if (name === '') bad('meta: name must be provided');
  if (!DNS_NAME.test(name)) bad('name must be valid as a DNS name component');
  if (name.length > 63) bad('name must be 63 characters or fewer');
  validateTaskSpec(spec.TaskTemplate ?? {});
  const m = spec.Mode ?? {};
  if ((m.Replicated?.Replicas ?? 0) < 0) bad('Number of replicas must be non-negative');
  if ((m.ReplicatedJob?.MaxConcurrent ?? 0) < 0) bad('Maximum concurrent jobs must not be negative');
  if ((m.ReplicatedJob?.TotalCompletions ?? 0) < 0) bad('Total completed jobs must not be negative');
  const isJob = m.ReplicatedJob !== undefined || m.GlobalJob !== undefined;
  if (isJob) {
    if (spec.UpdateConfig !== undefined) bad('Jobs may not have an update config');
  } else validateUpdateConfig(spec.UpdateConfig);
  validateEndpoint(spec);
  if (isJob) bad(JOBS_REFUSED);
}

function modeOf(spec: ServiceSpec | undefined): string {
  const m = spec?.Mode ?? {};
  if (m.Global !== undefined) return 'global';
  if (m.GlobalJob !== undefined) return 'global-job';
  if (m.ReplicatedJob !== undefined) return 'replicated-job';
  return 'replicated';
}

/**
 * What swarmkit's UpdateService refuses besides the spec itself (after validateServiceSpec of
 * the new spec): a mode change and a rename (both Unimplemented, 501 through dockerd), a
 * rollback request without a previous spec (FailedPrecondition).
 */
export function validateServiceUpdate(current: Service, next: ServiceSpec, rollback = false): void {
  if (rollback && current.PreviousSpec === undefined)
    throw new InvalidParameter(`service ${current.ID ?? ''} does not have a previous spec`);
  if (modeOf(current.Spec) !== modeOf(next)) throw new NotImplemented('service mode change is not allowed');
  if ((current.Spec?.Name ?? '') !== (next.Name ?? '')) throw new NotImplemented('renaming services is not supported');
}

/**
 * A create request body to the spec to store: dockerd names an unnamed service (its
 * namesgenerator; `randomName` here), validates, and stores its converted form.
 */
export function prepareServiceSpec(body: ServiceSpec, randomName: () => string): ServiceSpec {
  const named = (body.Name ?? '') === '' ? { ...body, Name: randomName() } : body;
  validateServiceSpec(named);
  return normalizeServiceSpec(named);
}
