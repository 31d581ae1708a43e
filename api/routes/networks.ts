// Networks area: list, inspect, create, remove, prune, connect, disconnect. The rules live in
// daemon/networks and the container service.
import { InvalidParameter, NotFound } from '../../lib/errors';
import type { NetworkRecord } from '../../daemon/networks/model';
import type { NetworkCreateRequest, NetworkListFilter } from '../../daemon/networks/service';
import type { NetworkView } from '../../daemon/networks/views';
import { readJsonBody } from '../body';
import { ENDPOINT_SETTINGS, decodeGoValue } from '../go-decode';
import type { EndpointSettings } from '../../daemon/containers/api-types';
import { Filters, invalidFilter, parseTimestamp } from '../filters';
import { boolValue, pathParam, queryOf, queryString } from '../query';
import { sendEmpty, sendJson } from '../reply';
import type { Operations } from './operations';
import { checkEndpointSettings } from '../network-shapes';
import { shapes, versionAsks } from '../version-shapes';

export interface NetworkBackend {
  /** withContainers: each network's endpoints, as inspect shows them. */
  /** In a swarm, swarm-scoped networks come from the cluster store (hence the promise). */
  list(filter: NetworkListFilter, withContainers: boolean): NetworkView[] | Promise<NetworkView[]>;
  inspect(id: string, withStatus: boolean): NetworkView | Promise<NetworkView>;
  create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }>;
  remove(id: string): Promise<void>;
  prune(opts: { until?: number; labels: (l: Readonly<Record<string, string>>) => boolean }): Promise<{ NetworksDeleted: string[] | null }>;
  connect(network: string, container: string, settings: EndpointSettings | undefined): Promise<void>;
  disconnect(network: string, container: string, force: boolean): Promise<void>;
}

const LIST_FILTERS = ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type'];
const PRUNE_FILTERS = ['until', 'label', 'label!'];
const BUILTIN = new Set(['bridge', 'host', 'none']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field<T>(body: Record<string, unknown>, key: string, type: 'string' | 'boolean' | 'object', struct: string): T | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const ok = type === 'object' ? isObject(v) : typeof v === type;
  if (!ok)
    throw new InvalidParameter(
      `json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field ${struct}.${key} of type ${type === 'boolean' ? 'bool' : type === 'object' ? 'map[string]string' : 'string'}`,
    );
  return v as T;
}

function stringMap(body: Record<string, unknown>, key: string, struct: string): Record<string, string> | undefined {
  const m = field<Record<string, unknown>>(body, key, 'object', struct);
  if (m && Object.values(m).some((v) => typeof v !== 'string')) {
    throw new InvalidParameter(`json: cannot unmarshal into Go struct field ${struct}.${key} of type map[string]string`);
  }
  return m as Record<string, string> | undefined;
}

/** The list filters as dockerd applies them (daemon/network/filter.go). */
export function networkListFilter(filters: Filters): NetworkListFilter {
  filters.validate(LIST_FILTERS);
  for (const t of filters.get('type')) {
    if (t !== 'custom' && t !== 'builtin') throw new InvalidParameter(`invalid filter: 'type'='${t}'`);
  }
  const dangling = filters.has('dangling') ? filters.boolValue('dangling', false) : undefined;
  return {
    match(n: NetworkRecord, isDangling: boolean, scope = 'local', driver: string = n.driver): boolean {
      if (!filters.exactMatch('driver', driver)) return false;
      if (!filters.match('id', n.id)) return false;
      if (!filters.match('name', n.name)) return false;
      if (!filters.exactMatch('scope', scope)) return false;
      if (!filters.matchKVList('label', n.labels)) return false;
      if (filters.has('type')) {
        const types = filters.get('type');
        const builtin = BUILTIN.has(n.name) && n.builtin;
        if (!types.includes(builtin ? 'builtin' : 'custom')) return false;
      }
      if (dangling !== undefined && dangling !== isDangling) return false;
      return true;
    },
  };
}

export function networkOperations(backend: NetworkBackend): Operations {
  return {
    NetworkList: async (request, reply) => {
      const filter = networkListFilter(Filters.fromQuery(queryOf(request)));
      const list = await backend.list(filter, versionAsks.networkListContainers(request.apiVersion));
      return sendJson(reply, shapes.networkList(list, request.apiVersion));
    },

    NetworkInspect: async (request, reply) => {
      const q = queryOf(request);
      // verbose only adds swarm services' details; parsed for dockerd's 400 on a bad value.
      boolValue(q, 'verbose');
      const scope = queryString(q, 'scope');
      const id = pathParam(request, 'id');
      const view = await backend.inspect(id, versionAsks.networkStatus(request.apiVersion));
      if (scope && scope !== view.Scope) throw new NotFound(`network ${id} not found`);
      return sendJson(reply, shapes.network(view, request.apiVersion));
    },

    NetworkCreate: async (request, reply) => {
      const body = readJsonBody(request);
      if (!isObject(body)) throw new InvalidParameter('invalid JSON: body must be an object');
      const S = 'CreateRequest';
      const name = field<string>(body, 'Name', 'string', S) ?? '';
      const ipamRaw = field<Record<string, unknown>>(body, 'IPAM', 'object', S);
      let ipam: NetworkCreateRequest['IPAM'];
      if (ipamRaw) {
        const cfg = ipamRaw.Config;
        if (cfg !== undefined && cfg !== null && !Array.isArray(cfg)) {
          throw new InvalidParameter('json: cannot unmarshal object into Go struct field IPAM.IPAM.Config of type []network.IPAMConfig');
        }
        ipam = {
          Driver: field<string>(ipamRaw, 'Driver', 'string', 'IPAM'),
          Options: stringMap(ipamRaw, 'Options', 'IPAM'),
          Config: (cfg as unknown[] | undefined | null)?.map((c) => {
            if (!isObject(c))
              throw new InvalidParameter('json: cannot unmarshal into Go struct field IPAM.IPAM.Config of type network.IPAMConfig');
            return {
              Subnet: field<string>(c, 'Subnet', 'string', 'IPAMConfig'),
              IPRange: field<string>(c, 'IPRange', 'string', 'IPAMConfig'),
              Gateway: field<string>(c, 'Gateway', 'string', 'IPAMConfig'),
              AuxiliaryAddresses: stringMap(c, 'AuxiliaryAddresses', 'IPAMConfig'),
            };
          }),
        };
      }
      const res = await backend.create({
        Name: name,
        Driver: field<string>(body, 'Driver', 'string', S),
        Scope: field<string>(body, 'Scope', 'string', S),
        Internal: field<boolean>(body, 'Internal', 'boolean', S),
        Attachable: field<boolean>(body, 'Attachable', 'boolean', S),
        Ingress: field<boolean>(body, 'Ingress', 'boolean', S),
        ConfigOnly: field<boolean>(body, 'ConfigOnly', 'boolean', S),
        ConfigFrom: field<{ Network?: string }>(body, 'ConfigFrom', 'object', S),
        EnableIPv4: field<boolean>(body, 'EnableIPv4', 'boolean', S),
        EnableIPv6: field<boolean>(body, 'EnableIPv6', 'boolean', S),
        IPAM: ipam,
        Options: stringMap(body, 'Options', S),
        Labels: stringMap(body, 'Labels', S),
      });
      return sendJson(reply, res, 201);
    },

    NetworkDelete: async (request, reply) => {
      await backend.remove(pathParam(request, 'id'));
      return sendEmpty(reply);
    },

    NetworkPrune: async (request, reply) => {
      const filters = Filters.fromQuery(queryOf(request));
      filters.validate(PRUNE_FILTERS);
      const untilValues = filters.get('until');
      if (untilValues.length > 1) throw invalidFilter('until', untilValues);
      const until = untilValues.length === 1 ? parseTimestamp(untilValues[0]).seconds : undefined;
      return sendJson(reply, await backend.prune({ until, labels: (l) => filters.matchLabels(l) }));
    },

    NetworkConnect: async (request, reply) => {
      const body = readJsonBody(request) ?? {};
      if (!isObject(body)) throw new InvalidParameter('invalid JSON: body must be an object');
      const container = field<string>(body, 'Container', 'string', 'ConnectOptions') ?? '';
      if (container === '') throw new InvalidParameter('no container specified');
      const checked = checkEndpointSettings(body.EndpointConfig, 'ConnectOptions.EndpointConfig');
      // Only the fields Go would decode are kept: nothing unknown (or nested 10000 deep) is stored.
      const settings = checked === undefined ? undefined : (decodeGoValue(checked, ENDPOINT_SETTINGS) as EndpointSettings);
      await backend.connect(pathParam(request, 'id'), container, settings);
      return sendEmpty(reply, 200);
    },

    NetworkDisconnect: async (request, reply) => {
      const body = readJsonBody(request) ?? {};
      if (!isObject(body)) throw new InvalidParameter('invalid JSON: body must be an object');
      const container = field<string>(body, 'Container', 'string', 'DisconnectOptions') ?? '';
      if (container === '') throw new InvalidParameter('no container specified');
      await backend.disconnect(pathParam(request, 'id'), container, field<boolean>(body, 'Force', 'boolean', 'DisconnectOptions') ?? false);
      return sendEmpty(reply, 200);
    },
  };
}
