// `GET /system/df`. Before API 1.52 the legacy shape (LayersSize, Images, Containers, Volumes,
// BuildCache); from 1.52 the per-type usage objects (named as the seed spec names them) and,
// unless `verbose` says the client knows the new shape, the legacy fields as well.
import { InvalidParameter } from '../../lib/errors';
import type { DiskUsage, DiskUsageObject } from '../../daemon/system/disk-usage';
import { boolValue, queryOf, queryValues } from '../query';
import { sendJson } from '../reply';
import { shapes, versionAsks } from '../version-shapes';
import type { Operations } from './operations';

export interface DiskUsageBackend {
  usage(what: ReadonlySet<DiskUsageObject>): Promise<DiskUsage>;
}

const OBJECTS: readonly DiskUsageObject[] = ['container', 'image', 'volume', 'build-cache'];

export function diskUsageOperations(backend: DiskUsageBackend): Operations {
  return {
    SystemDataUsage: async (request, reply) => {
      const q = queryOf(request);
      const version = request.apiVersion;
      const types = queryValues(q, 'type');
      let what: Set<DiskUsageObject>;
      if (!versionAsks.diskUsageTypeFilter(version) || types.length === 0) what = new Set(OBJECTS);
      else {
        what = new Set();
        for (const t of types) {
          if (!(OBJECTS as readonly string[]).includes(t)) throw new InvalidParameter(`unknown object type: ${t}`);
          what.add(t as DiskUsageObject);
        }
      }
      const du = await backend.usage(what);
      const modern = versionAsks.diskUsageByType(version);
      const verbose = modern && boolValue(q, 'verbose');
      let out: Record<string, unknown> = {};
      if (!verbose) {
        if (du.images) {
          out.LayersSize = du.images.TotalSize;
          out.Images = du.images.Items;
        }
        if (du.containers) out.Containers = du.containers.Items;
        if (du.volumes) out.Volumes = du.volumes.Items;
        if (du.buildCache) out.BuildCache = du.buildCache.Items;
        out = shapes.diskUsageLegacy(out, version);
      }
      if (modern) {
        // Items only for verbose clients; the totals always.
        const totals = <T>(u: { Items: T[] } | undefined): object | undefined => {
          if (!u) return undefined;
          const { Items, ...rest } = u;
          return verbose ? { ...rest, Items } : rest;
        };
        const add = (key: string, v: object | undefined): void => {
          if (v) out[key] = v;
        };
        add('ImagesDiskUsage', totals(du.images));
        add('ContainersDiskUsage', totals(du.containers));
        add('VolumesDiskUsage', totals(du.volumes));
        add('BuildCacheDiskUsage', totals(du.buildCache));
      }
      return sendJson(reply, out);
    },
  };
}
