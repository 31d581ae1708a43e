// A swarm task as the local container that runs it: what dockerd's executor makes of a Task
// (moby daemon/cluster/executor/container/container.go, after swarmkit's template expansion),
// as the create request of Berth's own container service (daemon/containers/create.ts), never
// through HTTP. Pure: nothing is created here.
import type { definitions } from '../../api-types/gen/engine-api';
import { InvalidParameter } from '../../../lib/errors';
import type { ContainerConfig, EndpointSettings, HealthConfig, HostConfig, Mount } from '../../containers/api-types';
import type { CreateRequest } from '../../containers/create';
import { familiarString, parseNormalizedNamed, tagNameOnly } from '../../images/reference';
import { expandTemplate, taskName, templateContext, TemplateError, type TemplateContext } from './template';
import type { TaskFileMount } from './task-files';

export type Task = definitions['Task'];
export type TaskSpec = definitions['TaskSpec'];
export type ContainerSpec = NonNullable<TaskSpec['ContainerSpec']>;
export type EndpointSpec = definitions['EndpointSpec'];

/** The label namespace dockerd reserves for the executor's own labels. */
export const SYSTEM_LABEL_PREFIX = 'com.docker.swarm';

/** A network the task joins, resolved by the agent to this node's local network of that name/ID. */
export interface TaskNetwork {
  /** The local network's name or ID (what NetworkMode / EndpointsConfig key on). */
  target: string;
  aliases?: string[];
  driverOpts?: Record<string, string>;
}

export interface TaskNode {
  id: string;
  hostname?: string;
  architecture?: string;
  os?: string;
}

export interface TaskRunInput {
  task: Task;
  serviceName: string;
  /** The service's labels: only for templates ({{.Service.Labels}}), as swarmkit. */
  serviceLabels?: Record<string, string>;
  /** The service's endpoint spec (host-mode ports become port bindings). */
  endpointSpec?: EndpointSpec;
  node: TaskNode;
  networks?: TaskNetwork[];
  /** Secrets and configs written by task-files.ts, bound read-only. */
  files?: TaskFileMount[];
}

export interface TaskContainerPlan {
  /** `<service>.<slot>.<taskID>` (global: `<service>.<nodeID>.<taskID>`). */
  name: string;
  request: CreateRequest;
  /**
   * ContainerSpec.StopGracePeriod in whole seconds for the stop of a task being shut down, as
   * dockerd's adapter passes it to ContainerStop; undefined: the container's own stop timeout.
   */
  stopGraceSeconds: number | undefined;
}

const NS_PER_SEC = 1_000_000_000;

/** The image as dockerd's executor names it: familiar, with the default tag (`busybox:latest`). */
export function taskImage(raw: string): string {
  try {
    return familiarString(tagNameOnly(parseNormalizedNamed(raw)));
  } catch {
    return raw;
  }
}

/** The task's container name: the task's own Name if the orchestrator set one, else naming.Task. */
export function taskContainerName(task: Task, serviceName: string): string {
  if (task.Name) return task.Name;
  return taskName(serviceName, task.Slot ?? 0, task.NodeID ?? '', task.ID ?? '');
}

/** dockerd's labels: ContainerSpec.Labels, then the task's labels, then the system labels. */
export function taskLabels(task: Task, serviceName: string): Record<string, string> {
  const labels: Record<string, string> = { ...(task.Spec?.ContainerSpec?.Labels ?? {}), ...(task.Labels ?? {}) };
  const system: Record<string, string> = {
    task: '',
    'task.id': task.ID ?? '',
    'task.name': taskContainerName(task, serviceName),
    'node.id': task.NodeID ?? '',
    'service.id': task.ServiceID ?? '',
    'service.name': serviceName,
  };
  for (const [k, v] of Object.entries(system)) labels[`${SYSTEM_LABEL_PREFIX}.${k}`] = v;
  return labels;
}

function wrapTemplate<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TemplateError) throw new InvalidParameter(`${what}: ${err.message}`);
    throw err;
  }
}

function expandMap(ctx: TemplateContext, m: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!m) return m;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) out[k] = wrapTemplate(`expanding map entry "${k}"="${v}"`, () => expandTemplate(ctx, v));
  return out;
}

/** swarmkit's ExpandContainerSpec: Env values, mounts' strings, Hostname. */
export function expandContainerSpec(ctx: TemplateContext, spec: ContainerSpec): ContainerSpec {
  const env = (spec.Env ?? []).map((e) => {
    const eq = e.indexOf('=');
    if (eq < 0) return e;
    return `${e.slice(0, eq)}=${wrapTemplate(`expanding env failed: expanding env "${e}"`, () => expandTemplate(ctx, e.slice(eq + 1)))}`;
  });
  const mounts = (spec.Mounts ?? []).map((m): Mount => {
    const out: Mount = { ...m };
    out.Source = wrapTemplate(`expanding mounts failed: expanding mount source "${m.Source ?? ''}"`, () =>
      expandTemplate(ctx, m.Source ?? ''),
    );
    out.Target = wrapTemplate(`expanding mounts failed: expanding mount target "${m.Target ?? ''}"`, () =>
      expandTemplate(ctx, m.Target ?? ''),
    );
    if (m.VolumeOptions) {
      out.VolumeOptions = { ...m.VolumeOptions, Labels: expandMap(ctx, m.VolumeOptions.Labels) };
      if (m.VolumeOptions.DriverConfig) {
        out.VolumeOptions.DriverConfig = { ...m.VolumeOptions.DriverConfig, Options: expandMap(ctx, m.VolumeOptions.DriverConfig.Options) };
      }
    }
    return out;
  });
  const hostname = wrapTemplate('expanding hostname failed', () => expandTemplate(ctx, spec.Hostname ?? ''));
  return { ...spec, Env: spec.Env ? env : spec.Env, Mounts: spec.Mounts ? mounts : spec.Mounts, Hostname: hostname };
}

/** The only mount types a service may use (dockerd's validateMounts adds npipe on Windows). */
function validateMounts(mounts: Mount[]): void {
  for (const m of mounts) {
    if (!m.Target?.startsWith('/')) throw new InvalidParameter(`invalid mount target, must be an absolute path: ${m.Target ?? ''}`);
    switch (m.Type) {
      case 'bind':
        if (!m.Source?.startsWith('/'))
          throw new InvalidParameter(`invalid bind mount source, must be an absolute path: ${m.Source ?? ''}`);
        break;
      case 'volume':
        if (m.Source && m.Source.startsWith('/'))
          throw new InvalidParameter(`invalid volume mount source, must not be an absolute path: ${m.Source}`);
        break;
      case 'tmpfs':
        if (m.Source) throw new InvalidParameter('invalid tmpfs source, source must be empty');
        break;
      default:
        throw new InvalidParameter(`invalid mount type: ${m.Type ?? ''}`);
    }
  }
}

/** The swarm ContainerSpec's mount, as the engine's Mount (only the fields the executor keeps). */
function engineMount(m: Mount): Mount {
  const out: Mount = { Type: m.Type, Source: m.Source ?? '', Target: m.Target ?? '' };
  if (m.ReadOnly) out.ReadOnly = true;
  if (m.BindOptions) out.BindOptions = m.BindOptions.Propagation ? { Propagation: m.BindOptions.Propagation } : {};
  if (m.VolumeOptions) {
    out.VolumeOptions = { NoCopy: m.VolumeOptions.NoCopy ?? false };
    if (m.VolumeOptions.Labels) out.VolumeOptions.Labels = { ...m.VolumeOptions.Labels };
    if (m.VolumeOptions.DriverConfig) {
      out.VolumeOptions.DriverConfig = { Name: m.VolumeOptions.DriverConfig.Name };
      if (m.VolumeOptions.DriverConfig.Options) out.VolumeOptions.DriverConfig.Options = { ...m.VolumeOptions.DriverConfig.Options };
    }
  }
  if (m.TmpfsOptions) out.TmpfsOptions = { SizeBytes: m.TmpfsOptions.SizeBytes, Mode: m.TmpfsOptions.Mode };
  return out;
}

/**
 * Published ports as the node's port bindings: host mode as dockerd, and ingress mode (the CLI's
 * default) too, since Berth has no routing mesh (a divergence): published on the node that runs
 * the task only.
 */
function hostPorts(endpoint: EndpointSpec | undefined): {
  bindings: NonNullable<HostConfig['PortBindings']>;
  exposed: Record<string, Record<string, never>>;
} {
  const bindings: NonNullable<HostConfig['PortBindings']> = {};
  const exposed: Record<string, Record<string, never>> = {};
  for (const p of endpoint?.Ports ?? []) {
    const port = `${p.TargetPort ?? 0}/${(p.Protocol ?? 'tcp').toLowerCase()}`;
    bindings[port] = [p.PublishedPort ? { HostIp: '', HostPort: String(p.PublishedPort) } : { HostIp: '', HostPort: '' }];
    exposed[port] = {};
  }
  return { bindings, exposed };
}

function healthcheck(spec: ContainerSpec): HealthConfig | undefined {
  // The Engine API's spec calls it HealthCheck; Docker's own types (and the CLI) send Healthcheck.
  const hc = spec.HealthCheck ?? (spec as { Healthcheck?: definitions['HealthConfig'] }).Healthcheck;
  if (!hc) return undefined;
  const out: HealthConfig = { Test: hc.Test ?? null };
  if (hc.Interval) out.Interval = hc.Interval;
  if (hc.Timeout) out.Timeout = hc.Timeout;
  if (hc.Retries) out.Retries = hc.Retries;
  if (hc.StartPeriod) out.StartPeriod = hc.StartPeriod;
  if (hc.StartInterval) out.StartInterval = hc.StartInterval;
  return out;
}

/** Privileges the Linux executor applies (SELinux labels; seccomp/AppArmor/no-new-privileges). */
function securityOpts(spec: ContainerSpec): string[] {
  const out: string[] = [];
  const p = spec.Privileges;
  const se = p?.SELinuxContext;
  if (se) {
    if (se.Disable) out.push('label=disable');
    if (se.User) out.push(`label=user:${se.User}`);
    if (se.Role) out.push(`label=role:${se.Role}`);
    if (se.Level) out.push(`label=level:${se.Level}`);
    if (se.Type) out.push(`label=type:${se.Type}`);
  }
  if (p?.Seccomp?.Mode === 'unconfined') out.push('seccomp=unconfined');
  else if (p?.Seccomp?.Mode === 'custom' && p.Seccomp.Profile) out.push(`seccomp=${p.Seccomp.Profile}`);
  if (p?.AppArmor?.Mode === 'disabled') out.push('apparmor=unconfined');
  if (p?.NoNewPrivileges) out.push('no-new-privileges=true');
  return out;
}

function resources(task: Task, spec: ContainerSpec): Partial<HostConfig> {
  const out: Partial<HostConfig> = {};
  const r = task.Spec?.Resources;
  const limits = r?.Limits;
  if (limits?.MemoryBytes && limits.MemoryBytes > 0) {
    out.Memory = limits.MemoryBytes;
    const swap = r?.SwapBytes;
    if (swap === -1) out.MemorySwap = -1;
    else if (swap !== undefined && swap !== null && swap >= 0) out.MemorySwap = limits.MemoryBytes + swap;
  }
  if (r?.MemorySwappiness !== undefined && r.MemorySwappiness !== null) out.MemorySwappiness = r.MemorySwappiness;
  if (limits?.NanoCPUs && limits.NanoCPUs > 0) out.NanoCpus = limits.NanoCPUs;
  if (limits?.Pids && limits.Pids > 0) out.PidsLimit = limits.Pids;
  if (spec.Ulimits?.length) out.Ulimits = spec.Ulimits.map((u) => ({ Name: u.Name, Soft: u.Soft, Hard: u.Hard }));
  return out;
}

/**
 * The node resources assigned to the task, as swarmkit's genericresource.EnvFormat: one
 * `DOCKER_RESOURCE_<KIND>=v1,v2` per kind (Go walks a map; Berth sorts the kinds).
 */
export function genericResourceEnv(res: definitions['GenericResources'] | undefined): string[] {
  const byKind = new Map<string, string[]>();
  for (const r of res ?? []) {
    const kind = r.NamedResourceSpec?.Kind ?? r.DiscreteResourceSpec?.Kind;
    if (kind === undefined) continue;
    const value = r.NamedResourceSpec ? (r.NamedResourceSpec.Value ?? '') : String(r.DiscreteResourceSpec?.Value ?? 0);
    byKind.set(kind, [...(byKind.get(kind) ?? []), value]);
  }
  return [...byKind.keys()].sort().map((k) => `DOCKER_RESOURCE_${k.toUpperCase()}=${(byKind.get(k) ?? []).join(',')}`);
}

/** `IP_address canonical_hostname [aliases...]` (hosts(5)) to the engine's `host:ip`. */
function extraHosts(hosts: string[] | undefined): string[] {
  const out: string[] = [];
  for (const entry of hosts ?? []) {
    const parts = entry.split(/\s+/).filter((p) => p !== '');
    if (parts.length > 1) out.push(`${parts[1]}:${parts[0]}`);
  }
  return out;
}

/** The container create request for a task on this node, with its stop grace period. */
export function taskContainerPlan(input: TaskRunInput): TaskContainerPlan {
  const { task, serviceName } = input;
  const raw = task.Spec?.ContainerSpec;
  if (!raw) throw new InvalidParameter('the task has no container spec (plugin and attachment tasks are not supported)');
  if (!raw.Image) throw new InvalidParameter('dockerexec: image required');
  const ctx = templateContext({
    serviceId: task.ServiceID ?? '',
    serviceName,
    serviceLabels: input.serviceLabels,
    nodeId: input.node.id,
    nodeHostname: input.node.hostname,
    nodeArchitecture: input.node.architecture,
    nodeOs: input.node.os,
    taskId: task.ID ?? '',
    slot: task.Slot ?? 0,
  });
  validateMounts(raw.Mounts ?? []);
  const spec = expandContainerSpec(ctx, raw);
  const name = taskContainerName(task, serviceName);
  const ports = hostPorts(input.endpointSpec);

  const config: ContainerConfig = {
    Image: taskImage(spec.Image ?? ''),
    Labels: taskLabels(task, serviceName),
    Tty: spec.TTY ?? false,
    OpenStdin: spec.OpenStdin ?? false,
    User: spec.User ?? '',
    Env: [...(spec.Env ?? []), ...genericResourceEnv(task.AssignedGenericResources)],
    Hostname: spec.Hostname ?? '',
    WorkingDir: spec.Dir ?? '',
    ExposedPorts: ports.exposed,
  };
  if (spec.StopSignal) config.StopSignal = spec.StopSignal;
  const hc = healthcheck(spec);
  if (hc) config.Healthcheck = hc;
  if ((spec.Command ?? []).length > 0) {
    // Command replaces the whole invocation (the image's entrypoint included); Args follow it.
    config.Entrypoint = [...(spec.Command ?? [])];
    config.Cmd = [...(spec.Args ?? [])];
  } else if ((spec.Args ?? []).length > 0) {
    config.Cmd = [...(spec.Args ?? [])];
  }

  const mounts = (spec.Mounts ?? []).map(engineMount);
  for (const f of input.files ?? []) mounts.push({ Type: 'bind', Source: f.source, Target: f.target, ReadOnly: true });

  const hostConfig: HostConfig = {
    ...resources(task, spec),
    GroupAdd: spec.Groups ?? [],
    PortBindings: ports.bindings,
    Mounts: mounts,
    ReadonlyRootfs: spec.ReadOnly ?? false,
    // The orchestrator restarts tasks; the container itself is never restarted by the engine.
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
  };
  if (spec.Init !== undefined && spec.Init !== null) hostConfig.Init = spec.Init;
  if (spec.Sysctls && Object.keys(spec.Sysctls).length > 0) hostConfig.Sysctls = { ...spec.Sysctls };
  if (spec.CapabilityAdd?.length) hostConfig.CapAdd = [...spec.CapabilityAdd];
  if (spec.CapabilityDrop?.length) hostConfig.CapDrop = [...spec.CapabilityDrop];
  if (spec.OomScoreAdj) hostConfig.OomScoreAdj = spec.OomScoreAdj;
  if (spec.DNSConfig) {
    hostConfig.Dns = spec.DNSConfig.Nameservers ?? [];
    hostConfig.DnsSearch = spec.DNSConfig.Search ?? [];
    hostConfig.DnsOptions = spec.DNSConfig.Options ?? [];
  }
  const sec = securityOpts(spec);
  if (sec.length > 0) hostConfig.SecurityOpt = sec;
  const hosts = extraHosts(spec.Hosts);
  if (hosts.length > 0) hostConfig.ExtraHosts = hosts;
  const logDriver = task.Spec?.LogDriver;
  if (logDriver?.Name) hostConfig.LogConfig = { Type: logDriver.Name as 'json-file', Config: { ...(logDriver.Options ?? {}) } };

  const endpoints: Record<string, EndpointSettings> = {};
  for (const n of input.networks ?? []) {
    const aliases = (n.aliases ?? []).map((a) => wrapTemplate('expanding alias failed', () => expandTemplate(ctx, a)));
    const ep: EndpointSettings = {};
    if (aliases.length > 0) ep.Aliases = aliases;
    const opts = expandMap(ctx, n.driverOpts);
    if (opts && Object.keys(opts).length > 0) ep.DriverOpts = opts;
    endpoints[n.target] = ep;
  }
  const first = input.networks?.[0];
  if (first) hostConfig.NetworkMode = first.target;

  const grace = spec.StopGracePeriod;
  return {
    name,
    request: { name, config, hostConfig, networkingConfig: first ? { EndpointsConfig: endpoints } : null },
    stopGraceSeconds: grace !== undefined && grace !== null ? Math.floor(grace / NS_PER_SEC) : undefined,
  };
}
