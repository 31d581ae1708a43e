// Image area: list, inspect, history, tag, delete, prune, load, save (get) and import (create
// with fromSrc). The rules live in the backend; api/version-shapes.ts shapes the answers per API version.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable, Writable } from 'node:stream';
import { PassThrough } from 'node:stream';
import type { ProgressSink } from '../../daemon/progress';
import { InvalidParameter, NotImplemented } from '../../lib/errors';
import type { LabelPredicate } from '../../daemon/images/filtering';
import type { ImageListOptions, PullOptions } from '../../daemon/images/service';
import type { PushRequest } from '../../daemon/images/push';
import type { PushSink } from '../../daemon/images/push-progress';
import { parsePlatform } from '../../registry/manifest';
import type { Platform } from '../../registry/types';
import { registryAuth } from '../registry-auth';
import type { PruneOptions, RemoveOptions } from '../../daemon/images/remove';
import type { ImageDeleteItem, ImageHistoryView, ImageInspectView, ImagePruneView, ImageSummaryView } from '../../daemon/images/views';
import { bodyStream } from '../body';
import { Filters, parseTimestamp } from '../filters';
import { boolValue, boolValueOrDefault, pathParam, queryOf, queryString, queryValues } from '../query';
import { sendJson } from '../reply';
import { withJsonMessageStream } from '../streams';
import { versionLessThan } from '../version';
import { shapes, versionAsks } from '../version-shapes';
import type { Operations } from './operations';

export interface ImportRequest {
  repo: string;
  tag: string;
  message: string;
  changes: string[];
  platform: string;
}

export interface ImageBackend<SavePlan = unknown> {
  list(opts: ImageListOptions): ImageSummaryView[];
  inspect(name: string): Promise<ImageInspectView>;
  history(name: string): ImageHistoryView[];
  tag(source: string, repo: string, tag: string): void;
  remove(name: string, opts: RemoveOptions): Promise<ImageDeleteItem[]>;
  prune(opts: PruneOptions): Promise<ImagePruneView>;
  load(body: Readable, opts: { quiet: boolean }, progress: ProgressSink): Promise<void>;
  import(body: Readable, opts: ImportRequest, progress: ProgressSink): Promise<string>;
  /** Synchronous failures (a bad reference) come before any output. */
  pull(opts: PullOptions, progress: ProgressSink): Promise<void>;
  planSave(names: string[]): SavePlan;
  save(plan: SavePlan, out: Writable): Promise<void>;
  push(req: PushRequest, progress: PushSink): Promise<void>;
}

const LIST_FILTERS = ['dangling', 'label', 'before', 'since', 'reference', 'until'] as const;
const PRUNE_FILTERS = ['dangling', 'label', 'label!', 'until'] as const;

function untilSeconds(filters: Filters): number | undefined {
  const values = filters.get('until');
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new InvalidParameter(`more than one until filter specified`);
  return parseTimestamp(values[0]).seconds;
}

function singleImageFilter(filters: Filters, key: string): string | undefined {
  const values = filters.get(key);
  return values.length > 0 ? values[values.length - 1] : undefined;
}

async function sendArchive<P>(reply: FastifyReply, backend: ImageBackend<P>, names: string[]): Promise<FastifyReply> {
  const plan = backend.planSave(names);
  const body = new PassThrough();
  // Destroyed with the save's error below, possibly after the client left and fastify let go.
  body.on('error', () => undefined);
  reply.code(200).type('application/x-tar').send(body);
  backend.save(plan, body).catch((err: unknown) => body.destroy(err instanceof Error ? err : new Error(String(err))));
  return reply;
}

export function imageOperations<P>(backend: ImageBackend<P>): Operations {
  return {
    ImageList: async (request, reply) => {
      const q = queryOf(request);
      const filters = Filters.fromQuery(q);
      filters.validate(LIST_FILTERS);
      const labels: LabelPredicate = (l) => filters.matchKVList('label', l);
      const list = backend.list({
        all: boolValue(q, 'all'),
        dangling: filters.has('dangling') ? filters.boolValue('dangling', false) : undefined,
        labels,
        references: filters.get('reference'),
        before: singleImageFilter(filters, 'before'),
        since: singleImageFilter(filters, 'since'),
        until: untilSeconds(filters),
        placeholders: versionAsks.imagePlaceholders(request.apiVersion),
      });
      return sendJson(reply, shapes.imageList(list, request.apiVersion));
    },

    ImageInspect: async (request, reply) => {
      const view = await backend.inspect(pathParam(request, 'name'));
      return sendJson(reply, shapes.imageInspect(view, request.apiVersion));
    },

    ImageHistory: async (request, reply) => sendJson(reply, backend.history(pathParam(request, 'name'))),

    ImageTag: async (request, reply) => {
      const q = queryOf(request);
      backend.tag(pathParam(request, 'name'), queryString(q, 'repo') ?? '', queryString(q, 'tag') ?? '');
      return reply.code(201).send();
    },

    ImageDelete: async (request, reply) => {
      const q = queryOf(request);
      const records = await backend.remove(pathParam(request, 'name'), {
        force: boolValue(q, 'force'),
        prune: !boolValue(q, 'noprune'),
      });
      return sendJson(reply, records);
    },

    ImagePrune: async (request, reply) => {
      const filters = Filters.fromQuery(queryOf(request));
      filters.validate(PRUNE_FILTERS);
      const result = await backend.prune({
        danglingOnly: filters.boolValue('dangling', true),
        until: untilSeconds(filters),
        labels: (l) => filters.matchLabels(l),
      });
      return sendJson(reply, result);
    },

    ImageLoad: async (request, reply) => {
      const quiet = boolValueOrDefault(queryOf(request), 'quiet', true);
      const body = bodyStream(request);
      // Whatever goes wrong is reported inside the stream of a 200, where SDKs look for it (moby's postImagesLoad).
      return withJsonMessageStream(reply, (out) => backend.load(body, { quiet }, (m) => out.write(m)), { errorsInStream: true });
    },

    ImagePush: async (request, reply) => {
      // As dockerd 25+: an X-Registry-Auth that does not decode means anonymous (no 400, and no
      // AuthConfig read from the body as 20.10 still did for header-less clients).
      const { credentials } = registryAuth(request, { strict: false });
      const q = queryOf(request);
      const platform = platformParam(request, '1.46');
      const name = pathParam(request, 'name');
      const tag = queryString(q, 'tag') ?? '';
      return withJsonMessageStream(reply, (out) =>
        backend.push({ name, tag, credentials, platform, signal: out.signal }, (m) => out.write(m)),
      );
    },

    ImageGet: async (request, reply) => sendArchive(reply, backend, [pathParam(request, 'name')]),

    ImageGetAll: async (request, reply) => sendArchive(reply, backend, queryValues(queryOf(request), 'names')),

    ImageCreate: async (request, reply) => {
      const q = queryOf(request);
      const fromImage = queryString(q, 'fromImage') ?? '';
      if (fromImage !== '') {
        const platform = platformParam(request, '1.32');
        // For a pull a missing or broken X-Registry-Auth means anonymous, as in dockerd.
        const { credentials } = registryAuth(request, { strict: false });
        return withJsonMessageStream(reply, (out) =>
          backend.pull({ fromImage, tag: queryString(q, 'tag') ?? '', platform, credentials, signal: out.signal }, (m) => out.write(m)),
        );
      }
      const fromSrc = queryString(q, 'fromSrc');
      if (fromSrc === undefined || fromSrc === '') throw new InvalidParameter('fromImage or fromSrc is required');
      if (fromSrc !== '-')
        throw new NotImplemented('ImageCreate from a URL (fromSrc) is not implemented; send the archive as the body with fromSrc=-');
      const body = bodyStream(request);
      return withJsonMessageStream(reply, async (out) => {
        await backend.import(
          body,
          {
            repo: queryString(q, 'repo') ?? '',
            tag: queryString(q, 'tag') ?? '',
            message: queryString(q, 'message') ?? '',
            changes: queryValues(q, 'changes'),
            platform: queryString(q, 'platform') ?? '',
          },
          (m) => out.write(m),
        );
      });
    },
  };
}

/** The `platform` query parameter, from the API version that has it; older clients' is ignored. */
export function platformParam(request: FastifyRequest, since: string): Platform | undefined {
  const spec = queryString(queryOf(request), 'platform') ?? '';
  if (spec === '' || versionLessThan(request.apiVersion, since)) return undefined;
  try {
    return parsePlatform(spec);
  } catch (err) {
    throw new InvalidParameter(err instanceof Error ? err.message : String(err));
  }
}
