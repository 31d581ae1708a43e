// Files inside containers: docker cp (HEAD/GET/PUT /containers/{id}/archive), export, diff and
// commit. Parses the request and frames the answer; the rules live in daemon/containers
// (archive.ts, export.ts, changes.ts) and daemon/containers/commit.ts.
import type { FastifyReply } from 'fastify';
import type { Readable } from 'node:stream';
import { InvalidParameter } from '../../lib/errors';
import { goQuote } from '../../lib/go-quote';
import type { ContainerPathStat } from '../../daemon/containers/archive';
import type { FilesystemChange } from '../../daemon/containers/changes';
import type { ContainerConfig } from '../../daemon/containers/api-types';
import type { CommitRequest } from '../../daemon/containers/commit';
import { bodyStream, readTypedJsonBody } from '../body';
import { CONFIG_BODY } from '../go-decode';
import { boolValue, pathParam, queryOf, queryString, queryValues, type Query } from '../query';
import { sendJson } from '../reply';
import type { Operations } from './operations';

export interface ContainerFilesBackend {
  statPath(id: string, path: string): Promise<ContainerPathStat>;
  archive(id: string, path: string): Promise<{ stat: ContainerPathStat; tar: Readable }>;
  extract(id: string, path: string, body: Readable, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void>;
  export(id: string): Promise<Readable>;
  changes(id: string): Promise<FilesystemChange[]>;
  commit(req: CommitRequest): Promise<string>;
}

const STAT_HEADER = 'X-Docker-Container-Path-Stat';

function archivePath(q: Query): string {
  const p = queryString(q, 'path') ?? '';
  if (p === '') throw new InvalidParameter('path cannot be empty');
  // No file name holds one; Node's fs would throw on it deep inside the handler (a 500).
  if (p.includes('\0')) throw new InvalidParameter(`lstat ${goQuote(p)}: invalid argument (a NUL byte in the path)`);
  return p;
}

function statHeader(stat: ContainerPathStat): string {
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

function sendTar(reply: FastifyReply, tar: Readable): FastifyReply {
  return reply.code(200).type('application/x-tar').send(tar);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function containerFileOperations(backend: ContainerFilesBackend): Operations {
  return {
    ContainerArchiveInfo: async (request, reply) => {
      const stat = await backend.statPath(pathParam(request, 'id'), archivePath(queryOf(request)));
      return reply.code(200).header(STAT_HEADER, statHeader(stat)).send();
    },

    ContainerArchive: async (request, reply) => {
      const { stat, tar } = await backend.archive(pathParam(request, 'id'), archivePath(queryOf(request)));
      reply.header(STAT_HEADER, statHeader(stat));
      return sendTar(reply, tar);
    },

    PutContainerArchive: async (request, reply) => {
      const q = queryOf(request);
      await backend.extract(pathParam(request, 'id'), archivePath(q), bodyStream(request), {
        noOverwriteDirNonDir: boolValue(q, 'noOverwriteDirNonDir'),
        copyUIDGID: boolValue(q, 'copyUIDGID'),
      });
      return reply.code(200).send();
    },

    ContainerExport: async (request, reply) => sendTar(reply, await backend.export(pathParam(request, 'id'))),

    ContainerChanges: async (request, reply) => sendJson(reply, await backend.changes(pathParam(request, 'id'))),

    ImageCommit: async (request, reply) => {
      const q = queryOf(request);
      const body = readTypedJsonBody(request, CONFIG_BODY);
      if (body !== undefined && body !== null && !isObject(body)) {
        throw new InvalidParameter('json: cannot unmarshal into Go value of type container.Config');
      }
      const id = await backend.commit({
        container: queryString(q, 'container') ?? '',
        repo: queryString(q, 'repo') ?? '',
        tag: queryString(q, 'tag') ?? '',
        comment: queryString(q, 'comment') ?? '',
        author: queryString(q, 'author') ?? '',
        // dockerd pauses unless told otherwise, an empty value included.
        pause: (queryString(q, 'pause') ?? '') === '' ? true : boolValue(q, 'pause'),
        changes: queryValues(q, 'changes'),
        config: isObject(body) ? (body as ContainerConfig) : undefined,
      });
      return sendJson(reply, { Id: id }, 201);
    },
  };
}
