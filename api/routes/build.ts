// POST /build (the classic builder) and POST /build/prune: the query and X-Registry-Config read
// here, the build itself in daemon/build. A failed RUN's exit code goes in errorDetail.code.
import type { FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { BuildOptions, BuildOutput } from '../../daemon/build/ports';
import type { HostConfig } from '../../daemon/containers/api-types';
import { BerthError, InvalidParameter } from '../../lib/errors';
import type { Credentials } from '../../registry/types';
import { bodyStream } from '../body';
import { clientMessage } from '../errors';
import { boolValue, boolValueOrDefault, int64ValueOrZero, queryOf, queryString, queryValues, type Query } from '../query';
import { authFromObject } from '../registry-auth';
import { sendJson } from '../reply';
import { withJsonMessageStream } from '../streams';
import { platformParam } from './images';
import type { Operations } from './operations';

export interface BuildBackend {
  /** Synchronous checks (tags) throw before any output. */
  checkTags(tags: readonly string[]): void;
  build(body: Readable, opts: BuildOptions, out: BuildOutput): Promise<string>;
}

function jsonParam<T>(q: Query, key: string, check: (v: unknown) => v is T, fallback: T): T {
  const raw = queryString(q, key) ?? '';
  if (raw === '') return fallback;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw new InvalidParameter(`${key}: ${(err as Error).message}`);
  }
  if (v === null) return fallback;
  if (!check(v)) throw new InvalidParameter(`${key}: invalid JSON value`);
  return v;
}

const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
const isArgMap = (v: unknown): v is Record<string, string | null> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string' || x === null);

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

const isUlimits = (v: unknown): v is { Name: string; Soft: number; Hard: number }[] =>
  Array.isArray(v) &&
  v.every((u) => {
    const o = u as Record<string, unknown> | null;
    return typeof o === 'object' && o !== null && typeof o.Name === 'string' && typeof o.Soft === 'number' && typeof o.Hard === 'number';
  });

/** X-Registry-Config: base64 (either alphabet) JSON of server → AuthConfig; broken means none. */
function registryConfigs(request: FastifyRequest): Record<string, Credentials> {
  const raw = request.headers['x-registry-config'];
  const encoded = Array.isArray(raw) ? raw[0] : raw;
  if (encoded === undefined || encoded === '') return {};
  try {
    const parsed = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    const out: Record<string, Credentials> = {};
    for (const [server, conf] of Object.entries(parsed as Record<string, unknown>)) out[server] = authFromObject(conf).credentials;
    return out;
  } catch {
    return {};
  }
}

function hostConfigOf(q: Query): HostConfig {
  const hc: HostConfig = {};
  const n = (k: string): number => int64ValueOrZero(q, k);
  if (n('memory') !== 0) hc.Memory = n('memory');
  if (n('memswap') !== 0) hc.MemorySwap = n('memswap');
  if (n('cpushares') !== 0) hc.CpuShares = n('cpushares');
  if (n('cpuperiod') !== 0) hc.CpuPeriod = n('cpuperiod');
  if (n('cpuquota') !== 0) hc.CpuQuota = n('cpuquota');
  if (n('shmsize') !== 0) hc.ShmSize = n('shmsize');
  const cpuset = queryString(q, 'cpusetcpus') ?? '';
  if (cpuset !== '') hc.CpusetCpus = cpuset;
  const cpusetMems = queryString(q, 'cpusetmems') ?? '';
  if (cpusetMems !== '') hc.CpusetMems = cpusetMems;
  const cgroupParent = queryString(q, 'cgroupparent') ?? '';
  if (cgroupParent !== '') hc.CgroupParent = cgroupParent;
  const ulimits = jsonParam(q, 'ulimits', isUlimits, []);
  if (ulimits.length > 0) hc.Ulimits = ulimits;
  return hc;
}

export function buildOperations(backend: BuildBackend): Operations {
  return {
    ImageBuild: async (request, reply) => {
      const q = queryOf(request);
      const version = queryString(q, 'version') ?? '';
      if (version === '2') {
        throw new InvalidParameter(
          'BuildKit (version=2) is not supported: Berth implements the classic builder only (build with DOCKER_BUILDKIT=0, or without the buildx plugin)',
        );
      }
      if (version !== '' && version !== '1') throw new InvalidParameter(`unsupported builder version ${version}`);
      const tags = queryValues(q, 't');
      backend.checkTags(tags);
      const opts: BuildOptions = {
        tags,
        dockerfile: queryString(q, 'dockerfile') ?? '',
        remote: queryString(q, 'remote') ?? '',
        quiet: boolValue(q, 'q'),
        noCache: boolValue(q, 'nocache'),
        remove: boolValueOrDefault(q, 'rm', true),
        forceRemove: boolValue(q, 'forcerm'),
        pull: boolValue(q, 'pull'),
        target: queryString(q, 'target') ?? '',
        buildArgs: jsonParam(q, 'buildargs', isArgMap, {}),
        labels: jsonParam(q, 'labels', isStringMap, {}),
        networkMode: queryString(q, 'networkmode') ?? '',
        extraHosts: queryValues(q, 'extrahosts')
          .flatMap((v) => v.split(','))
          .filter((v) => v !== ''),
        hostConfig: hostConfigOf(q),
        authConfigs: registryConfigs(request),
        cacheFrom: jsonParam(q, 'cachefrom', isStringList, []),
        platform: platformParam(request, '1.32'),
      };
      if (opts.forceRemove) opts.remove = true;
      const body = bodyStream(request);
      return withJsonMessageStream(reply, async (out) => {
        opts.signal = out.signal;
        try {
          await backend.build(body, opts, {
            stream: (text) => out.stream(text),
            aux: (value) => out.aux(value),
            backpressure: () => out.backpressure(),
            progress: (m) => out.write(m),
          });
        } catch (err) {
          const exitCode = (err as { exitCode?: unknown }).exitCode;
          if (!(err instanceof BerthError) && typeof exitCode !== 'number') request.log.error({ err }, 'build failed');
          if (!out.started || typeof exitCode !== 'number') throw err;
          const message = clientMessage(err);
          out.write({ error: message, errorDetail: { code: exitCode, message } });
        }
      });
    },

    // The classic builder's cache is its intermediate images (pruned with the images); there is
    // no separate cache to free, as with dockerd when BuildKit holds nothing.
    BuildPrune: async (_request, reply) => sendJson(reply, { CachesDeleted: null, SpaceReclaimed: 0 }),
  };
}
