// Swarm-mode areas (swarm, nodes, services, tasks, secrets, configs).
//
// Without a cluster store (`--cluster-store`), Berth never joins a swarm: these answer as dockerd
// does on a node whose swarm is inactive; only init and join, which dockerd would carry out, are
// refused with Berth's own message (docs/divergence.md).
//
// With a cluster store (docs/swarm.md), the swarm, node, service, task, secret and config routes
// (and service/task logs) go to the swarm backend.

import { InvalidParameter, NotImplemented, Unavailable } from '../../lib/errors';
import { readJsonBody } from '../body';
import { Filters, parseTimestamp } from '../filters';
import { startRawResponse, streamMediaType, writableOrGone } from '../hijack';
import { sendEmpty, sendJson } from '../reply';
import { boolValue, pathParam, queryOf, queryString, type Query } from '../query';
import type { ApiHandler, Operations } from './operations';
import { encodeFrame, STDERR, STDOUT, SYSTEMERR, type StreamType } from '../streams';
import { ROUTES, SWARM_AREAS, type OperationId } from './table';
import type { LogsRequest } from '../../daemon/containers/logs';
import type { LogTime } from '../../daemon/logs/types';

/** dockerd's errNoManager text for a node that is not in a swarm. */
export const NOT_A_SWARM_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
/** dockerd's errNoSwarm text (leaving a swarm that was never joined). */
export const NOT_IN_A_SWARM = 'This node is not part of a swarm';
export const SWARM_UNSUPPORTED = 'Swarm mode is not supported by Berth';

/** A node as the routes see it (the Engine API's Node). */
export interface SwarmNodeView {
  ID?: string;
  Spec?: { Name?: string; Role?: string; Labels?: Record<string, string> };
  Description?: { Hostname?: string; Engine?: { Labels?: Record<string, string> } };
}

export interface SwarmBackend {
  /** Whether this node is in a swarm now. */
  readonly active: boolean;
  init(req: object): Promise<string>;
  join(req: object): Promise<void>;
  leave(force: boolean): Promise<void>;
  inspect(): Promise<unknown>;
  update(
    version: number,
    spec: object,
    flags: { rotateWorkerToken: boolean; rotateManagerToken: boolean; rotateManagerUnlockKey: boolean },
  ): Promise<void>;
  unlock(): never;
  nodes: {
    list(match: (n: SwarmNodeView) => boolean): Promise<SwarmNodeView[]>;
    inspect(ref: string): Promise<SwarmNodeView>;
    update(ref: string, version: number, spec: object): Promise<void>;
    remove(ref: string, force: boolean): Promise<void>;
  };
  /** Services and tasks (absent: 501 while in a swarm). */
  services?: SwarmServicesBackend;
  secrets?: SwarmObjectsBackend;
  configs?: SwarmObjectsBackend;
  logs?(kind: 'service' | 'task', ref: string, opts: SwarmLogsRequest): Promise<{ tty: boolean; lines: AsyncIterable<SwarmLogLine> }>;
}

/** A service or task as the routes see them (the Engine API's Service and Task). */
export interface SwarmServiceView {
  ID?: string;
  Spec?: { Name?: string; Labels?: Record<string, string>; Mode?: Record<string, unknown> };
}
export interface SwarmTaskView {
  ID?: string;
  Labels?: Record<string, string>;
}

export interface SwarmTaskQuery {
  ids: string[];
  names: string[];
  services: string[];
  nodes: string[];
  desiredStates: string[];
  match(t: SwarmTaskView): boolean;
}

export interface SwarmServicesBackend {
  create(spec: object, registryAuth: string): Promise<unknown>;
  list(status: boolean, match: (s: SwarmServiceView) => boolean): Promise<unknown[]>;
  inspect(ref: string, insertDefaults: boolean): Promise<unknown>;
  update(
    ref: string,
    spec: object,
    o: { version: number; rollback: boolean; registryAuthFrom: string; registryAuth: string },
  ): Promise<unknown>;
  remove(ref: string): Promise<void>;
  listTasks(q: SwarmTaskQuery): Promise<unknown[]>;
  inspectTask(ref: string): Promise<unknown>;
}

/** A container logs request's options (tail counts per task), with since as a log time and no until. */
export type SwarmLogsRequest = Pick<LogsRequest, 'stdout' | 'stderr' | 'follow' | 'timestamps' | 'details' | 'tail' | 'signal'> & {
  since?: LogTime;
};

export interface SwarmLogLine {
  stream: 'stdout' | 'stderr' | 'system';
  payload: Buffer;
}

/** What list filters of secrets and configs look at. */
export interface SwarmObjectFacts {
  ID: string;
  Name: string;
  Labels: Record<string, string>;
}

/** Secrets or configs (the same operations and rules). */
export interface SwarmObjectsBackend {
  create(spec: object): Promise<string>;
  list(match: (o: SwarmObjectFacts) => boolean): Promise<unknown[]>;
  inspect(ref: string): Promise<unknown>;
  update(ref: string, version: number, spec: object): Promise<void>;
  remove(ref: string): Promise<void>;
}

const notManager: ApiHandler = async () => {
  throw new Unavailable(NOT_A_SWARM_MANAGER);
};

/** Service and task logs check their stream selection before reaching the cluster. */
function checkLogStreams(q: Query): void {
  if (!boolValue(q, 'stdout') && !boolValue(q, 'stderr')) {
    throw new InvalidParameter("must specify at least one of 'stdout' or 'stderr'");
  }
}

const logs: ApiHandler = async (request) => {
  checkLogStreams(queryOf(request));
  throw new Unavailable(NOT_A_SWARM_MANAGER);
};

function inactiveOperations(): Operations {
  const ops: Operations = {};
  for (const route of ROUTES) {
    if (SWARM_AREAS.has(route.area)) ops[route.operationId as OperationId] = notManager;
  }
  return {
    ...ops,
    SwarmLeave: async () => {
      throw new Unavailable(NOT_IN_A_SWARM);
    },
    SwarmInit: async () => {
      throw new Unavailable(SWARM_UNSUPPORTED);
    },
    SwarmJoin: async () => {
      throw new Unavailable(SWARM_UNSUPPORTED);
    },
    ServiceLogs: logs,
    TaskLogs: logs,
  };
}

function bodyObject(request: Parameters<ApiHandler>[0]): Record<string, unknown> {
  const v = readJsonBody(request);
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidParameter('invalid JSON: the body must be an object');
  return v as Record<string, unknown>;
}

/** dockerd's `strconv.ParseUint(version)` with its 400 text for a bad value. */
function versionOf(q: Query, what: string): number {
  const raw = queryString(q, 'version') ?? '';
  if (!/^[0-9]+$/.test(raw))
    throw new InvalidParameter(`invalid ${what} version '${raw}': strconv.ParseUint: parsing "${raw}": invalid syntax`);
  return Number(raw);
}

const NODE_FILTERS = ['id', 'label', 'membership', 'name', 'node.label', 'role'];

function nodeMatcher(filters: Filters): (n: SwarmNodeView) => boolean {
  filters.validate(NODE_FILTERS);
  for (const r of filters.get('role'))
    if (r !== 'manager' && r !== 'worker') throw new InvalidParameter(`Invalid role '${r}', must be one of: worker, manager`);
  for (const m of filters.get('membership')) {
    if (m !== 'accepted' && m !== 'pending') throw new InvalidParameter(`Invalid membership '${m}', must be one of: accepted, pending`);
  }
  const any = (key: string, test: (v: string) => boolean): boolean => !filters.has(key) || filters.get(key).some(test);
  return (n) =>
    any('id', (v) => (n.ID ?? '').startsWith(v)) &&
    any('name', (v) => (n.Spec?.Name || n.Description?.Hostname || '').startsWith(v)) &&
    any('role', (v) => n.Spec?.Role === v) &&
    any('membership', (v) => v === 'accepted') &&
    filters.matchKVList('label', n.Description?.Engine?.Labels ?? {}) &&
    filters.matchKVList('node.label', n.Spec?.Labels ?? {});
}

const SERVICE_FILTERS = ['id', 'label', 'mode', 'name'];
const SERVICE_MODES = new Set(['replicated', 'global', 'replicated-job', 'global-job']);

function serviceMatcher(filters: Filters): (s: SwarmServiceView) => boolean {
  filters.validate(SERVICE_FILTERS);
  for (const m of filters.get('mode')) if (!SERVICE_MODES.has(m)) throw new InvalidParameter(`Invalid filter: 'mode'='${m}'`);
  const any = (key: string, test: (v: string) => boolean): boolean => !filters.has(key) || filters.get(key).some(test);
  const modeOf = (s: SwarmServiceView): string => {
    const m = s.Spec?.Mode ?? {};
    if (m.Global !== undefined) return 'global';
    if (m.ReplicatedJob !== undefined) return 'replicated-job';
    if (m.GlobalJob !== undefined) return 'global-job';
    return 'replicated';
  };
  return (s) =>
    any('id', (v) => (s.ID ?? '').startsWith(v)) &&
    any('name', (v) => (s.Spec?.Name ?? '').startsWith(v)) &&
    any('mode', (v) => modeOf(s) === v) &&
    filters.matchKVList('label', s.Spec?.Labels ?? {});
}

const TASK_FILTERS = ['desired-state', 'id', 'label', 'name', 'node', 'runtime', 'service', 'up-to-date'];

function taskQuery(filters: Filters): SwarmTaskQuery {
  filters.validate(TASK_FILTERS);
  return {
    ids: filters.get('id'),
    names: filters.get('name'),
    services: filters.get('service'),
    nodes: filters.get('node'),
    desiredStates: filters.get('desired-state'),
    match: (t) => filters.matchKVList('label', t.Labels ?? {}),
  };
}

function headerString(request: Parameters<ApiHandler>[0], name: string): string {
  const v = request.headers[name];
  return typeof v === 'string' ? v : '';
}

function serviceOperations(b: SwarmBackend, s: SwarmServicesBackend): Operations {
  const on =
    (active: ApiHandler): ApiHandler =>
    (request, reply) =>
      b.active ? active(request, reply) : notManager(request, reply);
  return {
    ServiceCreate: on(async (request, reply) =>
      sendJson(reply, await s.create(bodyObject(request), headerString(request, 'x-registry-auth')), 201),
    ),
    ServiceList: on(async (request, reply) => {
      const q = queryOf(request);
      return sendJson(reply, await s.list(boolValue(q, 'status'), serviceMatcher(Filters.fromQuery(q))));
    }),
    ServiceInspect: on(async (request, reply) =>
      sendJson(reply, await s.inspect(pathParam(request, 'id'), boolValue(queryOf(request), 'insertDefaults'))),
    ),
    ServiceUpdate: on(async (request, reply) => {
      const q = queryOf(request);
      const version = versionOf(q, 'service');
      const rollback = queryString(q, 'rollback') ?? '';
      const result = await s.update(pathParam(request, 'id'), bodyObject(request), {
        version,
        rollback: rollback === 'previous',
        registryAuthFrom: queryString(q, 'registryAuthFrom') ?? '',
        registryAuth: headerString(request, 'x-registry-auth'),
      });
      return sendJson(reply, result);
    }),
    ServiceDelete: on(async (request, reply) => {
      await s.remove(pathParam(request, 'id'));
      return sendEmpty(reply, 200);
    }),
    TaskList: on(async (request, reply) => sendJson(reply, await s.listTasks(taskQuery(Filters.fromQuery(queryOf(request)))))),
    TaskInspect: on(async (request, reply) => sendJson(reply, await s.inspectTask(pathParam(request, 'id')))),
  };
}

const OBJECT_FILTERS = ['id', 'label', 'name', 'names'];

/** dockerd's secret/config list filters, as swarmkit applies them: each key ANDed, its values ORed. */
function objectMatcher(filters: Filters): (o: SwarmObjectFacts) => boolean {
  filters.validate(OBJECT_FILTERS);
  const any = (key: string, test: (v: string) => boolean): boolean => !filters.has(key) || filters.get(key).some(test);
  return (o) =>
    any('id', (v) => o.ID.startsWith(v)) &&
    any('name', (v) => o.Name.startsWith(v)) &&
    any('names', (v) => o.Name === v) &&
    filters.matchKVList('label', o.Labels);
}

/** The five routes of secrets or configs over their backend (`what`: "secret" or "config"). */
function objectOperations(
  what: 'Secret' | 'Config',
  b: SwarmObjectsBackend | undefined,
  orInactive: (h: ApiHandler) => ApiHandler,
): Operations {
  if (!b) return {};
  const lower = what.toLowerCase();
  const op = (name: string): OperationId => `${what}${name}` as OperationId;
  const ops: Operations = {};
  ops[op('Create')] = orInactive(async (request, reply) => sendJson(reply, { ID: await b.create(bodyObject(request)) }, 201));
  ops[op('List')] = orInactive(async (request, reply) => sendJson(reply, await b.list(objectMatcher(Filters.fromQuery(queryOf(request))))));
  ops[op('Inspect')] = orInactive(async (request, reply) => sendJson(reply, await b.inspect(pathParam(request, 'id'))));
  ops[op('Update')] = orInactive(async (request, reply) => {
    const raw = queryString(queryOf(request), 'version') ?? '';
    if (!/^[0-9]+$/.test(raw)) throw new InvalidParameter(`invalid ${lower} version`);
    await b.update(pathParam(request, 'id'), Number(raw), bodyObject(request));
    return sendEmpty(reply, 200);
  });
  ops[op('Delete')] = orInactive(async (request, reply) => {
    await b.remove(pathParam(request, 'id'));
    return sendEmpty(reply, 204);
  });
  return ops;
}

/** dockerd's Cluster.ServiceLogs checks of tail and since (plain errors: 500, before the stream). */
function swarmLogsRequest(q: Query, signal: AbortSignal): SwarmLogsRequest {
  const tailRaw = queryString(q, 'tail') ?? '';
  let tail = -1;
  if (tailRaw !== 'all' && tailRaw !== '') {
    if (!/^[+-]?[0-9]+$/.test(tailRaw)) throw new Error('tail value must be a positive integer or "all"');
    tail = Number(tailRaw);
    if (tail < 0) throw new Error('negative tail values not supported');
  }
  const sinceRaw = queryString(q, 'since') ?? '';
  let since: SwarmLogsRequest['since'];
  if (sinceRaw !== '') {
    try {
      const t = parseTimestamp(sinceRaw);
      since = { sec: t.seconds, nsec: t.nanos };
    } catch (err) {
      throw new Error(`could not parse since timestamp: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return {
    stdout: boolValue(q, 'stdout'),
    stderr: boolValue(q, 'stderr'),
    follow: boolValue(q, 'follow'),
    timestamps: boolValue(q, 'timestamps'),
    details: boolValue(q, 'details'),
    tail,
    ...(since ? { since } : {}),
    signal,
  };
}

/** GET /services/{id}/logs and /tasks/{id}/logs: dockerd's WriteLogStream over the relayed lines. */
function swarmLogs(b: SwarmBackend, kind: 'service' | 'task'): ApiHandler {
  return async (request, reply) => {
    const q = queryOf(request);
    checkLogStreams(q);
    const abort = new AbortController();
    const req = swarmLogsRequest(q, abort.signal);
    if (!b.logs) throw new NotImplemented('service and task logs are not available');
    const { tty, lines } = await b.logs(kind, pathParam(request, 'id'), req);
    const res = startRawResponse(reply, streamMediaType(tty, request.apiVersion));
    res.on('close', () => abort.abort());
    const frame: Record<SwarmLogLine['stream'], StreamType> = { stdout: STDOUT, stderr: STDERR, system: SYSTEMERR };
    try {
      for await (const line of lines) {
        if (res.destroyed) break;
        if (!res.write(tty ? line.payload : encodeFrame(frame[line.stream], line.payload))) await writableOrGone(res);
      }
    } catch (err) {
      const text = Buffer.from(`Error grabbing logs: ${err instanceof Error ? err.message : String(err)}\n`);
      if (!res.destroyed) res.write(tty ? text : encodeFrame(SYSTEMERR, text));
    }
    res.end();
  };
}

function activeOperations(b: SwarmBackend): Operations {
  const orInactive =
    (active: ApiHandler, inactive: ApiHandler = notManager): ApiHandler =>
    (request, reply) =>
      b.active ? active(request, reply) : inactive(request, reply);
  const ops: Operations = {};
  for (const route of ROUTES) {
    if (!SWARM_AREAS.has(route.area) || route.area === 'swarm' || route.area === 'node') continue;
    const id = route.operationId;
    ops[id as OperationId] = orInactive(
      async (request) => {
        if (id === 'ServiceLogs' || id === 'TaskLogs') checkLogStreams(queryOf(request));
        throw new NotImplemented(`${id} is not implemented yet: Berth's swarm mode has no services, tasks, secrets or configs yet`);
      },
      id === 'ServiceLogs' || id === 'TaskLogs' ? logs : notManager,
    );
  }
  return {
    ...ops,
    ...(b.services ? serviceOperations(b, b.services) : {}),
    SwarmInit: async (request, reply) => sendJson(reply, await b.init(bodyObject(request))),
    SwarmJoin: async (request, reply) => {
      await b.join(bodyObject(request));
      return sendEmpty(reply, 200);
    },
    SwarmLeave: async (request, reply) => {
      if (!b.active) throw new Unavailable(NOT_IN_A_SWARM);
      await b.leave(boolValue(queryOf(request), 'force'));
      return sendEmpty(reply, 200);
    },
    SwarmInspect: orInactive(async (_request, reply) => sendJson(reply, await b.inspect())),
    SwarmUpdate: orInactive(async (request, reply) => {
      const q = queryOf(request);
      const version = versionOf(q, 'swarm');
      await b.update(version, bodyObject(request), {
        rotateWorkerToken: boolValue(q, 'rotateWorkerToken'),
        rotateManagerToken: boolValue(q, 'rotateManagerToken'),
        rotateManagerUnlockKey: boolValue(q, 'rotateManagerUnlockKey'),
      });
      return sendEmpty(reply, 200);
    }),
    SwarmUnlockkey: orInactive(async () => b.unlock()),
    SwarmUnlock: orInactive(async () => b.unlock()),
    NodeList: orInactive(async (request, reply) => sendJson(reply, await b.nodes.list(nodeMatcher(Filters.fromQuery(queryOf(request)))))),
    NodeInspect: orInactive(async (request, reply) => sendJson(reply, await b.nodes.inspect(pathParam(request, 'id')))),
    NodeDelete: orInactive(async (request, reply) => {
      await b.nodes.remove(pathParam(request, 'id'), boolValue(queryOf(request), 'force'));
      return sendEmpty(reply, 200);
    }),
    NodeUpdate: orInactive(async (request, reply) => {
      const version = versionOf(queryOf(request), 'node');
      await b.nodes.update(pathParam(request, 'id'), version, bodyObject(request));
      return sendEmpty(reply, 200);
    }),
    ServiceLogs: orInactive(swarmLogs(b, 'service'), logs),
    TaskLogs: orInactive(swarmLogs(b, 'task'), logs),
    ...objectOperations('Secret', b.secrets, orInactive),
    ...objectOperations('Config', b.configs, orInactive),
  };
}

export function swarmOperations(backend?: SwarmBackend): Operations {
  return backend ? activeOperations(backend) : inactiveOperations();
}
