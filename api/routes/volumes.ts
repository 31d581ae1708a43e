// Volumes area: create, list, inspect, remove, prune, and the swarm-only update. The rules live
// in daemon/volumes.
import { InvalidParameter, Unavailable } from '../../lib/errors';
import type { Volume, VolumeCreateOptions, VolumeListFilter } from '../../daemon/volumes/service';
import { readJsonBody } from '../body';
import { Filters } from '../filters';
import { boolValue, pathParam, queryOf } from '../query';
import { sendEmpty, sendJson } from '../reply';
import { versionLessThan } from '../version';
import type { Operations } from './operations';

export interface VolumeBackend {
  create(opts: VolumeCreateOptions): Volume;
  inspect(name: string): Volume;
  list(filter: VolumeListFilter): Volume[];
  remove(name: string, force: boolean): Promise<void>;
  prune(all: boolean, labels: (l: Record<string, string>) => boolean): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }>;
}

const LIST_FILTERS = ['dangling', 'driver', 'label', 'name'];
const PRUNE_FILTERS = ['label', 'label!', 'all'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || Object.values(v).some((s) => typeof s !== 'string')) {
    throw new InvalidParameter(`json: cannot unmarshal into Go struct field CreateOptions.${field} of type map[string]string`);
  }
  return v as Record<string, string>;
}

export function volumeOperations(backend: VolumeBackend): Operations {
  return {
    VolumeCreate: async (request, reply) => {
      const body = readJsonBody(request) ?? {};
      if (!isObject(body)) throw new InvalidParameter('invalid JSON: body must be an object');
      const str = (k: string): string | undefined => {
        const v = body[k];
        if (v === undefined || v === null) return undefined;
        if (typeof v !== 'string')
          throw new InvalidParameter(`json: cannot unmarshal ${typeof v} into Go struct field CreateOptions.${k} of type string`);
        return v;
      };
      const vol = backend.create({
        Name: str('Name'),
        Driver: str('Driver'),
        DriverOpts: stringMap(body.DriverOpts, 'DriverOpts'),
        Labels: stringMap(body.Labels, 'Labels'),
      });
      return sendJson(reply, vol, 201);
    },

    VolumeList: async (request, reply) => {
      const filters = Filters.fromQuery(queryOf(request));
      filters.validate(LIST_FILTERS);
      const filter: VolumeListFilter = {
        dangling: filters.has('dangling') ? filters.boolValue('dangling', false) : undefined,
        drivers: filters.get('driver'),
        name: (n) => filters.match('name', n),
        labels: (l) => filters.matchKVList('label', l),
      };
      return sendJson(reply, { Volumes: backend.list(filter), Warnings: null });
    },

    VolumeInspect: async (request, reply) => sendJson(reply, backend.inspect(pathParam(request, 'name'))),

    VolumeUpdate: async () => {
      throw new Unavailable('volume update only valid for cluster volumes, but swarm is unavailable');
    },

    VolumeDelete: async (request, reply) => {
      await backend.remove(pathParam(request, 'name'), boolValue(queryOf(request), 'force'));
      return sendEmpty(reply);
    },

    VolumePrune: async (request, reply) => {
      const filters = Filters.fromQuery(queryOf(request));
      filters.validate(PRUNE_FILTERS);
      // API < 1.42 pruned every unused volume; `all` came with anonymous-only pruning.
      const all = versionLessThan(request.apiVersion, '1.42') || filters.boolValue('all', false);
      return sendJson(reply, await backend.prune(all, (l) => filters.matchLabels(l)));
    },
  };
}
