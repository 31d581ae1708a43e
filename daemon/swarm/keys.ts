// The one place etcd key names of swarm mode are built (docs/swarm.md, "Keys"). Every swarm object
// lives under P = /berth/swarm/<clusterID>/; the token index sits beside, so a joining node can find
// the cluster its token names.

export const ROOT = '/berth/swarm/';
/** `/berth/swarm-tokens/<digest>` → cluster ID: the cluster a join token's digest part names. */
export const TOKEN_INDEX = '/berth/swarm-tokens/';

export type NameKind = 'services' | 'secrets' | 'configs' | 'networks';

export interface ClusterKeys {
  /** P itself, with its trailing slash (for a prefix delete of the whole cluster). */
  readonly prefix: string;
  /** `P/cluster`: the Swarm object, token hashes and wrapped cluster keys. */
  readonly cluster: string;
  /** `P/leader`: the elected manager's node ID, attached to its lease. */
  readonly leader: string;
  readonly nodesPrefix: string;
  node(id: string): string;
  readonly alivePrefix: string;
  alive(id: string): string;
  readonly servicesPrefix: string;
  service(id: string): string;
  readonly tasksPrefix: string;
  task(id: string): string;
  readonly taskStatusPrefix: string;
  taskStatus(id: string): string;
  readonly secretsPrefix: string;
  secret(id: string): string;
  readonly configsPrefix: string;
  config(id: string): string;
  readonly networksPrefix: string;
  network(id: string): string;
  /** `P/names/<kind>/<name>` (the name URI-encoded): written with the object, for uniqueness. */
  name(kind: NameKind, name: string): string;
  /** `P/logs/req/<nodeID>/`: the log requests a node answers (each bound to its request's lease). */
  logRequestsPrefix(nodeId: string): string;
  logRequest(nodeId: string, requestId: string): string;
  /** `P/logs/out/<requestID>/`: the chunks the nodes answer a request with (same lease). */
  logChunksPrefix(requestId: string): string;
  /** `P/logs/out/<requestID>/<nodeID>/<seq, 10 digits>`. */
  logChunk(requestId: string, nodeId: string, seq: number): string;
}

/** IDs come from the cluster's own generators or from checked user input; never empty or with '/'. */
function part(s: string): string {
  if (s === '' || s.includes('/')) throw new Error(`invalid key part ${JSON.stringify(s)}`);
  return s;
}

export function clusterKeys(clusterId: string): ClusterKeys {
  const p = `${ROOT}${part(clusterId)}/`;
  const dir = (d: string): string => `${p}${d}/`;
  const under =
    (prefix: string) =>
    (id: string): string =>
      prefix + part(id);
  const k = {
    nodes: dir('nodes'),
    alive: dir('alive'),
    services: dir('services'),
    tasks: dir('tasks'),
    taskStatus: dir('task-status'),
    secrets: dir('secrets'),
    configs: dir('configs'),
    networks: dir('networks'),
  };
  return {
    prefix: p,
    cluster: `${p}cluster`,
    leader: `${p}leader`,
    nodesPrefix: k.nodes,
    node: under(k.nodes),
    alivePrefix: k.alive,
    alive: under(k.alive),
    servicesPrefix: k.services,
    service: under(k.services),
    tasksPrefix: k.tasks,
    task: under(k.tasks),
    taskStatusPrefix: k.taskStatus,
    taskStatus: under(k.taskStatus),
    secretsPrefix: k.secrets,
    secret: under(k.secrets),
    configsPrefix: k.configs,
    config: under(k.configs),
    networksPrefix: k.networks,
    network: under(k.networks),
    name: (kind, name) => `${p}names/${kind}/${encodeURIComponent(name)}`,
    logRequestsPrefix: (nodeId) => `${p}logs/req/${part(nodeId)}/`,
    logRequest: (nodeId, requestId) => `${p}logs/req/${part(nodeId)}/${part(requestId)}`,
    logChunksPrefix: (requestId) => `${p}logs/out/${part(requestId)}/`,
    logChunk: (requestId, nodeId, seq) => `${p}logs/out/${part(requestId)}/${part(nodeId)}/${String(seq).padStart(10, '0')}`,
  };
}

/** The ID at the end of a key under one of the prefixes above. */
export function idOfKey(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

export function tokenIndexKey(digest: string): string {
  return TOKEN_INDEX + part(digest);
}
