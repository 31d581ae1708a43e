// Service spec defaults, as dockerd fills them. Two layers, as in dockerd:
// - normalizeServiceSpec: what dockerd stores and answers for a request body (its convert round
//   trip: Mode defaults to one replica, Runtime "container", empty Labels map, RestartPolicy's
//   Condition "any" and MaxAttempts 0 when a policy is given, UpdateConfig's FailureAction "pause"
//   and Order "stop-first" when a config is given, ReplicatedJob's counts);
// - interpolateServiceSpec: swarmkit's api/defaults.InterpolateService, what `?insertDefaults=true`
//   answers and what the orchestrator acts on (StopGracePeriod 10s, restart any/5s, update and
//   rollback parallelism 1, pause, monitor 5s, stop-first).
import type { RestartPolicy, ServiceSpec, UpdateConfig } from './types';

const SECOND = 1e9;
export const DEFAULT_STOP_GRACE_NS = 10 * SECOND;
export const DEFAULT_RESTART_DELAY_NS = 5 * SECOND;
export const DEFAULT_MONITOR_NS = 5 * SECOND;
export const DEFAULT_TASK_HISTORY = 5;

export const DEFAULT_UPDATE_CONFIG: Readonly<Required<Omit<UpdateConfig, 'Delay'>>> & { Delay: number } = {
  Parallelism: 1,
  Delay: 0,
  FailureAction: 'pause',
  Monitor: DEFAULT_MONITOR_NS,
  MaxFailureRatio: 0,
  Order: 'stop-first',
};

function clone<T>(v: T): T {
  return structuredClone(v);
}

function normalizeUpdateConfig(u: UpdateConfig | undefined): UpdateConfig | undefined {
  if (u === undefined) return undefined;
  const out: UpdateConfig = {
    Parallelism: u.Parallelism ?? 0,
    FailureAction: u.FailureAction ?? 'pause',
    MaxFailureRatio: u.MaxFailureRatio ?? 0,
    Order: u.Order ?? 'stop-first',
  };
  if (u.Delay !== undefined && u.Delay !== 0) out.Delay = u.Delay;
  if (u.Monitor !== undefined && u.Monitor !== 0) out.Monitor = u.Monitor;
  return out;
}

/** The spec as dockerd stores it from a request that validateServiceSpec accepted. */
export function normalizeServiceSpec(input: ServiceSpec, randomName?: () => string): ServiceSpec {
  const spec = clone(input);
  if ((spec.Name ?? '') === '' && randomName !== undefined) spec.Name = randomName();
  spec.Labels ??= {};
  const t = (spec.TaskTemplate ??= {});
  t.Runtime = t.PluginSpec !== undefined ? 'plugin' : 'container';
  t.ForceUpdate ??= 0;
  if (t.RestartPolicy !== undefined) {
    const rp = t.RestartPolicy;
    const out: RestartPolicy = { Condition: rp.Condition ?? 'any' };
    if (rp.Delay !== undefined) out.Delay = rp.Delay;
    out.MaxAttempts = rp.MaxAttempts ?? 0;
    if (rp.Window !== undefined) out.Window = rp.Window;
    t.RestartPolicy = out;
  }
  const mode = spec.Mode ?? {};
  if (mode.Global !== undefined) spec.Mode = { Global: {} };
  else if (mode.GlobalJob !== undefined) spec.Mode = { GlobalJob: {} };
  else if (mode.ReplicatedJob !== undefined) {
    const max = mode.ReplicatedJob.MaxConcurrent ?? 1;
    spec.Mode = { ReplicatedJob: { MaxConcurrent: max, TotalCompletions: mode.ReplicatedJob.TotalCompletions ?? max } };
  } else spec.Mode = { Replicated: { Replicas: mode.Replicated?.Replicas ?? 1 } };
  const update = normalizeUpdateConfig(spec.UpdateConfig);
  if (update === undefined) delete spec.UpdateConfig;
  else spec.UpdateConfig = update;
  const rollback = normalizeUpdateConfig(spec.RollbackConfig);
  if (rollback === undefined) delete spec.RollbackConfig;
  else spec.RollbackConfig = rollback as ServiceSpec['RollbackConfig'];
  if (spec.EndpointSpec !== undefined) {
    const ep = spec.EndpointSpec;
    spec.EndpointSpec = {
      // dockerd stores an absent mode as vip (Berth's vip resolves as DNSRR: docs/divergence.md)
      Mode: ep.Mode ?? 'vip',
      ...(ep.Ports !== undefined && ep.Ports.length > 0
        ? {
            Ports: ep.Ports.map((p) => ({
              ...(p.Name !== undefined && p.Name !== '' ? { Name: p.Name } : {}),
              Protocol: p.Protocol ?? 'tcp',
              TargetPort: p.TargetPort ?? 0,
              PublishedPort: p.PublishedPort ?? 0,
              PublishMode: p.PublishMode ?? 'ingress',
            })),
          }
        : {}),
    };
  }
  return spec;
}

/** swarmkit's defaults.InterpolateService: every unspecified value filled in. */
export function interpolateServiceSpec(input: ServiceSpec): ServiceSpec {
  const spec = clone(input);
  const t = (spec.TaskTemplate ??= {});
  if (t.ContainerSpec !== undefined) {
    t.ContainerSpec.StopGracePeriod ??= DEFAULT_STOP_GRACE_NS;
    t.ContainerSpec.DNSConfig ??= {};
  }
  t.Resources ??= {};
  if (t.RestartPolicy === undefined) t.RestartPolicy = { Condition: 'any', Delay: DEFAULT_RESTART_DELAY_NS, MaxAttempts: 0 };
  else t.RestartPolicy.Delay ??= DEFAULT_RESTART_DELAY_NS;
  t.Placement ??= {};
  if (spec.UpdateConfig === undefined) spec.UpdateConfig = { ...DEFAULT_UPDATE_CONFIG };
  else spec.UpdateConfig.Monitor ??= DEFAULT_MONITOR_NS;
  if (spec.RollbackConfig === undefined) spec.RollbackConfig = { ...DEFAULT_UPDATE_CONFIG } as ServiceSpec['RollbackConfig'];
  else spec.RollbackConfig.Monitor ??= DEFAULT_MONITOR_NS;
  return spec;
}

export interface EffectiveRestart {
  condition: 'none' | 'on-failure' | 'any';
  delayMs: number;
  maxAttempts: number;
  windowMs: number;
}

/** The restart policy the orchestrator applies to a task spec. */
export function effectiveRestart(rp: RestartPolicy | undefined): EffectiveRestart {
  return {
    condition: rp?.Condition ?? 'any',
    delayMs: (rp?.Delay ?? DEFAULT_RESTART_DELAY_NS) / 1e6,
    maxAttempts: rp?.MaxAttempts ?? 0,
    windowMs: (rp?.Window ?? 0) / 1e6,
  };
}

export interface EffectiveUpdate {
  parallelism: number;
  delayMs: number;
  failureAction: 'continue' | 'pause' | 'rollback';
  monitorMs: number;
  maxFailureRatio: number;
  order: 'stop-first' | 'start-first';
}

/** The update (or, during a rollback, the rollback) config in force, swarmkit's defaults filling gaps. */
export function effectiveUpdate(spec: ServiceSpec, rollingBack: boolean): EffectiveUpdate {
  const u: UpdateConfig | undefined = rollingBack ? spec.RollbackConfig : spec.UpdateConfig;
  const c = u ?? DEFAULT_UPDATE_CONFIG;
  return {
    parallelism: c.Parallelism ?? 0,
    delayMs: (c.Delay ?? 0) / 1e6,
    failureAction: c.FailureAction ?? 'pause',
    monitorMs: (c.Monitor !== undefined && c.Monitor !== 0 ? c.Monitor : DEFAULT_MONITOR_NS) / 1e6,
    maxFailureRatio: c.MaxFailureRatio ?? 0,
    order: c.Order ?? 'stop-first',
  };
}
