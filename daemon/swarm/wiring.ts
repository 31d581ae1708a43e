// Swarm mode's wiring for main.ts: the etcd connection from the configuration, this node's
// description, and the adapter the API's swarm routes call (request bodies checked here, since
// every client is hostile: a field of the wrong type is a 400, never a crash).

import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { InvalidParameter } from '../../lib/errors';
import type { ClusterKv } from '../../store/cluster/kv';
import { engineInfo } from '../system/engine';
import { machineArchitecture } from '../system/host';
import type { ReadOptions } from '../logs/container-logs';
import type { LogEntry } from '../logs/types';
import { AgentLoop } from './agent/loop';
import { LocalAgentHost, type LocalHostDeps } from './agent/local-host';
import { clusterKeys } from './keys';
import { SERVICE_ID_LABEL, TASK_ID_LABEL, type LocalTaskLogs } from './logs/responder';
import type { Service, ServiceSpec, Task } from './orchestrator/types';
import type { SecretSpec } from './secret-config';
import { SwarmService, type InitRequest, type JoinRequest, type SwarmAgentControl, type SwarmLogsOptions } from './service';
import type { TaskFilter, UpdateOptions } from './services';
import type { ApiNode, NodeDescription, NodeSpec, Swarm, SwarmSpec } from './shapes';

export interface SwarmConfig {
  clusterStore: string[];
  clusterStoreOpts: Record<string, string>;
  clusterNodeTtl: number;
  dataRoot: string;
  labels: string[];
}

export async function connectClusterStore(c: SwarmConfig): Promise<ClusterKv> {
  // Loaded only in swarm mode: the etcd client and its protos are ~9 MB of a daemon's idle RSS.
  const { EtcdKv } = await import('../../store/cluster/etcd-kv.js');
  return new EtcdKv({
    endpoints: c.clusterStore,
    caFile: c.clusterStoreOpts['etcd.cacert'],
    certFile: c.clusterStoreOpts['etcd.cert'],
    keyFile: c.clusterStoreOpts['etcd.key'],
  });
}

export function describeNode(labels: string[]): NodeDescription {
  const engineLabels: Record<string, string> = {};
  for (const l of labels) {
    const eq = l.indexOf('=');
    engineLabels[eq === -1 ? l : l.slice(0, eq)] = eq === -1 ? '' : l.slice(eq + 1);
  }
  return {
    Hostname: os.hostname(),
    Platform: { Architecture: machineArchitecture(), OS: 'linux' },
    Resources: { NanoCPUs: os.availableParallelism() * 1e9, MemoryBytes: os.totalmem() },
    Engine: {
      EngineVersion: engineInfo().version,
      Labels: engineLabels,
      Plugins: [
        { Type: 'Log', Name: 'json-file' },
        { Type: 'Network', Name: 'bridge' },
        { Type: 'Network', Name: 'host' },
        { Type: 'Network', Name: 'null' },
        { Type: 'Volume', Name: 'local' },
      ],
    },
    TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
  };
}

/** The container service as the log responder sees it. */
export interface TaskContainerSource {
  all(): Array<{ id: string; record: { config: { Labels?: Record<string, string> | null } } }>;
  readLogs(id: string, opts: ReadOptions): AsyncIterable<LogEntry>;
}

/** This node's containers labelled as swarm tasks, and their logs through Berth's own reader. */
export function containerTaskLogs(containers: TaskContainerSource): LocalTaskLogs {
  return {
    taskContainers: () =>
      containers.all().flatMap((c) => {
        const labels = c.record.config.Labels ?? {};
        const taskId = labels[TASK_ID_LABEL];
        return taskId ? [{ containerId: c.id, taskId, serviceId: labels[SERVICE_ID_LABEL] ?? '' }] : [];
      }),
    read: (id, opts) => containers.readLogs(id, opts),
  };
}

/** What the node's task agent runs on: the local services and the exec root (task files). */
export interface SwarmAgentDeps extends LocalHostDeps {
  execRoot: string;
}

function agentControl(kv: ClusterKv, c: SwarmConfig, d: SwarmAgentDeps, logger: Logger): SwarmAgentControl {
  const host = new LocalAgentHost(d);
  let loop: AgentLoop | undefined;
  const take = (): AgentLoop | undefined => {
    const l = loop;
    loop = undefined;
    return l;
  };
  return {
    start: (m) => {
      take()
        ?.stop()
        .catch(() => undefined);
      const desc = describeNode(c.labels);
      loop = new AgentLoop({
        kv,
        keys: clusterKeys(m.clusterId),
        nodeId: m.nodeId,
        clusterKey: Buffer.from(m.clusterKey, 'base64'),
        host,
        filesRoot: path.join(d.execRoot, 'swarm', 'tasks'),
        node: { hostname: desc.Hostname, architecture: desc.Platform?.Architecture, os: desc.Platform?.OS },
        logger: logger.child({ component: 'swarm-agent' }),
      });
      loop.start();
    },
    leave: async () => {
      await take()?.stopAndRemoveAll();
    },
    stop: async () => {
      await take()?.stop();
    },
  };
}

export async function startSwarm(c: SwarmConfig, logger: Logger, agent?: SwarmAgentDeps): Promise<SwarmService> {
  const kv = await connectClusterStore(c);
  const service = new SwarmService({
    kv,
    dataRoot: c.dataRoot,
    nodeTtlSeconds: c.clusterNodeTtl,
    describe: () => describeNode(c.labels),
    logger,
    ...(agent ? { agent: agentControl(kv, c, agent, logger), taskLogs: containerTaskLogs(agent.containers) } : {}),
  });
  // A node whose store is down at start still serves its local API; membership retries.
  await service.start();
  return service;
}

function field<T>(body: object, name: string, type: 'string' | 'number' | 'boolean' | 'object'): T | undefined {
  const v = (body as Record<string, unknown>)[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== type || (type === 'object' && Array.isArray(v))) {
    throw new InvalidParameter(
      `json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field .${name} of type ${type}`,
    );
  }
  return v as T;
}

function strings(body: object, name: string): string[] | undefined {
  const v = (body as Record<string, unknown>)[name];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new InvalidParameter(`json: cannot unmarshal into Go struct field .${name} of type []string`);
  }
  return v as string[];
}

function stringMap(body: object, name: string): Record<string, string> | undefined {
  const v = field<Record<string, unknown>>(body, name, 'object');
  if (v && !Object.values(v).every((x) => typeof x === 'string')) {
    throw new InvalidParameter(`json: cannot unmarshal into Go struct field .${name} of type string`);
  }
  return v as Record<string, string> | undefined;
}

/** A SecretSpec or ConfigSpec body with its fields' types checked. */
function objectSpec(body: object): SecretSpec {
  const driver = (name: string): { Name: string } | undefined => {
    const d = field<object>(body, name, 'object');
    return d && { Name: field<string>(d, 'Name', 'string') ?? '' };
  };
  return {
    Name: field(body, 'Name', 'string'),
    Labels: stringMap(body, 'Labels'),
    Data: field(body, 'Data', 'string'),
    Driver: driver('Driver'),
    Templating: driver('Templating'),
  };
}

function objectsBackend<V>(store: {
  create(spec: SecretSpec): Promise<string>;
  list(match: (o: { ID: string; Name: string; Labels: Record<string, string> }) => boolean): Promise<V[]>;
  inspect(ref: string): Promise<V>;
  update(ref: string, version: number, spec: SecretSpec): Promise<void>;
  remove(ref: string): Promise<void>;
}) {
  return {
    create: (spec: object) => store.create(objectSpec(spec)),
    list: (match: (o: { ID: string; Name: string; Labels: Record<string, string> }) => boolean) => store.list(match),
    inspect: (ref: string) => store.inspect(ref),
    update: (ref: string, version: number, spec: object) => store.update(ref, version, objectSpec(spec)),
    remove: (ref: string) => store.remove(ref),
  };
}

/** The object the API's swarm routes call (api/routes/swarm.ts SwarmBackend, structurally). */
export function swarmBackend(s: SwarmService) {
  return {
    get active(): boolean {
      return s.active;
    },
    init: (body: object): Promise<string> => {
      const req: InitRequest = {
        ListenAddr: field(body, 'ListenAddr', 'string'),
        AdvertiseAddr: field(body, 'AdvertiseAddr', 'string'),
        DataPathPort: field(body, 'DataPathPort', 'number'),
        DefaultAddrPool: strings(body, 'DefaultAddrPool'),
        SubnetSize: field(body, 'SubnetSize', 'number'),
        ForceNewCluster: field(body, 'ForceNewCluster', 'boolean'),
        AutoLockManagers: field(body, 'AutoLockManagers', 'boolean'),
        Spec: field<SwarmSpec>(body, 'Spec', 'object'),
      };
      return s.init(req);
    },
    join: (body: object): Promise<void> => {
      const req: JoinRequest = {
        ListenAddr: field(body, 'ListenAddr', 'string'),
        AdvertiseAddr: field(body, 'AdvertiseAddr', 'string'),
        RemoteAddrs: strings(body, 'RemoteAddrs'),
        JoinToken: field(body, 'JoinToken', 'string'),
      };
      return s.join(req);
    },
    leave: (force: boolean): Promise<void> => s.leave(force),
    inspect: (): Promise<Swarm> => s.inspect(),
    update: (
      version: number,
      spec: object,
      flags: { rotateWorkerToken: boolean; rotateManagerToken: boolean; rotateManagerUnlockKey: boolean },
    ) => s.update(version, spec as SwarmSpec, flags),
    unlock: (): never => s.unlock(),
    nodes: {
      list: (match: (n: ApiNode) => boolean): Promise<ApiNode[]> => s.nodes.list(match),
      inspect: (ref: string): Promise<ApiNode> => s.nodes.inspect(ref),
      update: (ref: string, version: number, spec: object): Promise<void> => {
        const labels = field<Record<string, unknown>>(spec, 'Labels', 'object');
        if (labels && !Object.values(labels).every((v) => typeof v === 'string')) {
          throw new InvalidParameter('json: cannot unmarshal into Go struct field NodeSpec.Labels of type string');
        }
        const checked: NodeSpec = {
          Name: field(spec, 'Name', 'string'),
          Labels: labels as Record<string, string> | undefined,
          Role: field(spec, 'Role', 'string'),
          Availability: field(spec, 'Availability', 'string'),
        };
        return s.nodes.update(ref, version, checked);
      },
      remove: (ref: string, force: boolean): Promise<void> => s.nodes.remove(ref, force),
    },
    services: {
      create: (spec: object, registryAuth: string) => s.services.create(spec as ServiceSpec, registryAuth),
      list: (status: boolean, match: (v: Service) => boolean) => s.services.list({ status, match }),
      inspect: (ref: string, insertDefaults: boolean) => s.services.inspect(ref, insertDefaults),
      update: (ref: string, spec: object, o: UpdateOptions) => s.services.update(ref, spec as ServiceSpec, o),
      remove: (ref: string): Promise<void> => s.services.remove(ref),
      listTasks: (q: Omit<TaskFilter, 'match'> & { match(t: Task): boolean }) => s.services.listTasks(q),
      inspectTask: (ref: string) => s.services.inspectTask(ref),
    },
    logs: (kind: 'service' | 'task', ref: string, opts: SwarmLogsOptions) => s.logs(kind, ref, opts),
    secrets: objectsBackend(s.secrets),
    configs: objectsBackend(s.configs),
  };
}
