// Container area: create, lifecycle, attach, wait, logs, list, inspect, prune. Parses the
// request, calls the backend, frames the answer; the rules live in daemon/containers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type * as net from 'node:net';
import type { WebSocket } from 'ws';
import { InvalidParameter } from '../../lib/errors';
import type { ContainerConfig, HostConfig, NetworkingConfig } from '../../daemon/containers/api-types';
import type { AttachOptions, AttachSession } from '../../daemon/containers/attach';
import type { WaitCondition, WaitResult } from '../../daemon/containers/service';
import type { ListFilterInput } from '../../daemon/containers/views';
import type { ContainerInspectResponse, ContainerSummary } from '../../daemon/containers/api-types';
import type { LogsRequest } from '../../daemon/containers/logs';
import { readTypedJsonBody } from '../body';
import { clientMessage } from '../errors';
import { CREATE_BODY, UPDATE_BODY } from '../go-decode';
import { Filters, parseTimestamp } from '../filters';
import { acceptWebsocket, hijack, startRawResponse, streamMediaType, writableOrGone, writeFlushed } from '../hijack';
import { versionLessThan } from '../version';
import { containerCreateAt, shapes } from '../version-shapes';
import { atoiValue, boolValue, int64ValueOrDefault, pathParam, queryOf, queryString, resizeDimension, type Query } from '../query';
import { sendEmpty, sendJson } from '../reply';
import { encodeFrame, STDERR, STDOUT } from '../streams';
import type { Operations } from './operations';
import { checkNetworkingConfig, checkPortBindings } from '../network-shapes';

export interface ContainerListRequest {
  all: boolean;
  limit: number;
  size: boolean;
  filters: ListFilterInput;
}

export interface ContainerBackend {
  list(req: ContainerListRequest): Promise<ContainerSummary[]>;
  inspect(id: string, size: boolean): Promise<ContainerInspectResponse>;
  create(req: {
    name: string;
    config: ContainerConfig;
    hostConfig: HostConfig;
    networkingConfig: NetworkingConfig | null;
  }): Promise<{ Id: string; Warnings: string[] }>;
  start(id: string): Promise<void>;
  stop(id: string, opts: { signal?: string; timeoutSec?: number }): Promise<void>;
  restart(id: string, opts: { signal?: string; timeoutSec?: number }): Promise<void>;
  kill(id: string, signal: string | undefined): Promise<void>;
  pause(id: string): Promise<void>;
  unpause(id: string): Promise<void>;
  rename(id: string, name: string): Promise<void>;
  update(id: string, changes: HostConfig): Promise<string[]>;
  resize(id: string, height: number, width: number): Promise<void>;
  top(id: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }>;
  remove(id: string, opts: { force: boolean; volumes: boolean }): Promise<void>;
  /** Drops the legacy link `/parent/alias` (`docker rm --link`). */
  removeLink(name: string): Promise<void>;
  prune(opts: {
    until?: number;
    labels: (l: Readonly<Record<string, string>>) => boolean;
  }): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }>;
  /** Registers the wait at once (throwing for an unknown container); resolves on the condition. */
  wait(id: string, condition: WaitCondition, signal?: AbortSignal): Promise<WaitResult>;
  attach(id: string, opts: AttachOptions): AttachSession;
  logs(id: string, req: LogsRequest): { tty: boolean; body: AsyncIterable<Buffer> };
}

const LIST_FILTERS = [
  'ancestor',
  'before',
  'expose',
  'exited',
  'health',
  'id',
  'is-task',
  'isolation',
  'label',
  'name',
  'network',
  'publish',
  'since',
  'status',
  'volume',
];
const PRUNE_FILTERS = ['until', 'label', 'label!'];

function optionalInt(q: Query, key: string): number | undefined {
  const v = queryString(q, key);
  if (v === undefined || v === '') return undefined;
  return atoiValue(v);
}

function stopOptions(q: Query): { signal?: string; timeoutSec?: number } {
  return { signal: queryString(q, 'signal') || undefined, timeoutSec: optionalInt(q, 't') };
}

interface CreateBody extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: NetworkingConfig;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * What one attached client may hold unsent before its container's output pauses for it (see
 * AttachHub.connectSource): enough for bursts, small enough that a client that never reads
 * costs the daemon little.
 */
export const ATTACH_CLIENT_BUFFER = 1024 * 1024;

/** Writes a hijacked stream's output: framed per stream without a TTY, raw with one. */
function outputWriter(socket: net.Socket, tty: boolean): (stream: 'stdout' | 'stderr', chunk: Buffer) => void | Promise<void> {
  return (stream, chunk) => {
    if (socket.destroyed || socket.writableEnded) return;
    socket.write(tty ? chunk : encodeFrame(stream === 'stdout' ? STDOUT : STDERR, chunk));
    if (socket.writableLength > ATTACH_CLIENT_BUFFER) return writableOrGone(socket);
  };
}

/** The same bound for a websocket client: bytes handed to ws whose send has not completed. */
function websocketWriter(ws: WebSocket, binary: boolean): (chunk: Buffer) => void | Promise<void> {
  let pending = 0;
  let waiters: Array<() => void> = [];
  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  ws.once('close', wake);
  return (chunk) => {
    if (ws.readyState !== ws.OPEN) return;
    pending += chunk.length;
    ws.send(binary ? chunk : chunk.toString('utf8'), { binary }, () => {
      pending -= chunk.length;
      if (pending <= ATTACH_CLIENT_BUFFER / 2) wake();
    });
    if (pending <= ATTACH_CLIENT_BUFFER) return;
    return new Promise<void>((resolve) => {
      if (ws.readyState !== ws.OPEN) resolve();
      else waiters.push(resolve);
    });
  };
}

/** The attach query of both attach forms (hijacked and websocket). */
function attachOptions(q: Query): AttachOptions {
  return {
    stdin: boolValue(q, 'stdin'),
    stdout: boolValue(q, 'stdout'),
    stderr: boolValue(q, 'stderr'),
    stream: boolValue(q, 'stream'),
    logs: boolValue(q, 'logs'),
    detachKeys: queryString(q, 'detachKeys') ?? '',
  };
}

async function attach(backend: ContainerBackend, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = backend.attach(pathParam(request, 'id'), attachOptions(queryOf(request)));
  const socket = hijack(request, reply, streamMediaType(session.tty, request.apiVersion));
  const write = outputWriter(socket, session.tty);
  socket.on('data', (chunk: Buffer) => session.stdin(chunk));
  socket.on('end', () => session.stdinEnd());
  socket.on('close', () => session.close());
  socket.on('error', () => session.close());
  await session.start({
    output: write,
    end: () => {
      if (!socket.destroyed) socket.end();
    },
  });
}

export function containerOperations(backend: ContainerBackend): Operations {
  return {
    ContainerList: async (request, reply) => {
      const q = queryOf(request);
      const filters = Filters.fromQuery(q);
      filters.validate(LIST_FILTERS);
      const list = await backend.list({
        all: boolValue(q, 'all'),
        limit: int64ValueOrDefault(q, 'limit', -1),
        size: boolValue(q, 'size'),
        filters,
      });
      return sendJson(reply, shapes.containerList(list, request.apiVersion));
    },

    ContainerCreate: async (request, reply) => {
      const q = queryOf(request);
      const body = readTypedJsonBody(request, CREATE_BODY);
      if (body === undefined || body === null) throw new InvalidParameter('config cannot be empty in order to create a container');
      const { HostConfig: hostConfig, NetworkingConfig: networkingConfig, ...config } = body as CreateBody;
      if (isObject(hostConfig)) checkPortBindings(hostConfig.PortBindings);
      const req = {
        config: config as Record<string, unknown>,
        hostConfig: (hostConfig ?? {}) as Record<string, unknown>,
        networkingConfig: checkNetworkingConfig(networkingConfig) as Record<string, unknown> | null,
        platform: queryString(q, 'platform') ?? '',
      };
      containerCreateAt(req, request.apiVersion);
      if (req.platform !== '' && !req.platform.startsWith('linux')) {
        throw new InvalidParameter(`operating system is not supported: ${req.platform.split('/')[0]}`);
      }
      const result = await backend.create({
        name: queryString(q, 'name') ?? '',
        config: req.config as ContainerConfig,
        hostConfig: req.hostConfig as HostConfig,
        networkingConfig: req.networkingConfig as NetworkingConfig | null,
      });
      return sendJson(reply, result, 201);
    },

    ContainerInspect: async (request, reply) => {
      const body = await backend.inspect(pathParam(request, 'id'), boolValue(queryOf(request), 'size'));
      return sendJson(reply, shapes.containerInspect(body, request.apiVersion));
    },

    ContainerTop: async (request, reply) =>
      sendJson(reply, await backend.top(pathParam(request, 'id'), queryString(queryOf(request), 'ps_args') ?? '')),

    ContainerStart: async (request, reply) => {
      await backend.start(pathParam(request, 'id'));
      return sendEmpty(reply);
    },

    ContainerStop: async (request, reply) => {
      await backend.stop(pathParam(request, 'id'), stopOptions(queryOf(request)));
      return sendEmpty(reply);
    },

    ContainerRestart: async (request, reply) => {
      await backend.restart(pathParam(request, 'id'), stopOptions(queryOf(request)));
      return sendEmpty(reply);
    },

    ContainerKill: async (request, reply) => {
      await backend.kill(pathParam(request, 'id'), queryString(queryOf(request), 'signal'));
      return sendEmpty(reply);
    },

    ContainerPause: async (request, reply) => {
      await backend.pause(pathParam(request, 'id'));
      return sendEmpty(reply);
    },

    ContainerUnpause: async (request, reply) => {
      await backend.unpause(pathParam(request, 'id'));
      return sendEmpty(reply);
    },

    ContainerRename: async (request, reply) => {
      await backend.rename(pathParam(request, 'id'), queryString(queryOf(request), 'name') ?? '');
      return sendEmpty(reply);
    },

    ContainerUpdate: async (request, reply) => {
      const body = readTypedJsonBody(request, UPDATE_BODY);
      if (body === undefined) throw new InvalidParameter('invalid JSON: got EOF while reading request body');
      // A null body decodes to an empty UpdateConfig in Go: nothing changes.
      const warnings = await backend.update(pathParam(request, 'id'), (body ?? {}) as HostConfig);
      return sendJson(reply, { Warnings: warnings });
    },

    ContainerResize: async (request, reply) => {
      const q = queryOf(request);
      const h = resizeDimension(q, 'h');
      const w = resizeDimension(q, 'w');
      await backend.resize(pathParam(request, 'id'), h, w);
      return reply.code(200).send();
    },

    ContainerDelete: async (request, reply) => {
      const q = queryOf(request);
      if (boolValue(q, 'link')) {
        await backend.removeLink(pathParam(request, 'id'));
        return sendEmpty(reply);
      }
      await backend.remove(pathParam(request, 'id'), { force: boolValue(q, 'force'), volumes: boolValue(q, 'v') });
      return sendEmpty(reply);
    },

    ContainerPrune: async (request, reply) => {
      const filters = Filters.fromQuery(queryOf(request));
      filters.validate(PRUNE_FILTERS);
      const until = filters.get('until');
      const result = await backend.prune({
        until: until.length > 0 ? parseTimestamp(until[until.length - 1]).seconds : undefined,
        labels: (l) => filters.matchLabels(l),
      });
      return sendJson(reply, result);
    },

    ContainerWait: async (request, reply) => {
      const raw = queryString(queryOf(request), 'condition') ?? '';
      const condition: WaitCondition = raw === '' ? 'not-running' : (raw as WaitCondition);
      if (!['not-running', 'next-exit', 'removed'].includes(condition)) {
        throw new InvalidParameter(`invalid condition: "${raw}"`);
      }
      const abort = new AbortController();
      const result = backend.wait(pathParam(request, 'id'), condition, abort.signal);
      // Headers go out at once: the CLI starts the container only after the wait is in place.
      const res = startRawResponse(reply, 'application/json');
      res.on('close', () => abort.abort());
      let body: WaitResult;
      try {
        body = await result;
      } catch (err) {
        if (abort.signal.aborted) return;
        body = { StatusCode: -1, Error: { Message: clientMessage(err) } };
      }
      res.end(`${JSON.stringify(body.Error ? body : { StatusCode: body.StatusCode })}\n`);
    },

    ContainerAttach: async (request, reply) => attach(backend, request, reply),

    ContainerLogs: async (request, reply) => {
      const q = queryOf(request);
      const stdout = boolValue(q, 'stdout');
      const stderr = boolValue(q, 'stderr');
      if (!stdout && !stderr) throw new InvalidParameter('Bad parameters: you must choose at least one stream');
      const tailRaw = queryString(q, 'tail') ?? 'all';
      const tail = tailRaw === 'all' || tailRaw === '' ? -1 : /^\d+$/.test(tailRaw) ? Number(tailRaw) : -1;
      const since = queryString(q, 'since');
      const until = queryString(q, 'until');
      const abort = new AbortController();
      const { tty, body } = backend.logs(pathParam(request, 'id'), {
        stdout,
        stderr,
        follow: boolValue(q, 'follow'),
        timestamps: boolValue(q, 'timestamps'),
        details: boolValue(q, 'details'),
        tail,
        since: since ? parseTimestamp(since) : undefined,
        until: until ? parseTimestamp(until) : undefined,
        signal: abort.signal,
      });
      const res = startRawResponse(reply, streamMediaType(tty, request.apiVersion));
      res.on('close', () => abort.abort());
      try {
        for await (const chunk of body) {
          if (res.destroyed) break;
          // Paced by the client, chunk by chunk: its buffer is reused for the next one. A client
          // that leaves mid-wait ends the loop (no reader left open).
          await writeFlushed(res, chunk);
        }
      } catch (err) {
        request.log.debug({ err }, 'log stream ended with an error');
      }
      res.end();
    },

    ContainerAttachWebsocket: async (request, reply) => {
      // dockerd's websocket attach: raw bytes both ways, no multiplexing; binary frames since 1.42.
      const session = backend.attach(pathParam(request, 'id'), attachOptions(queryOf(request)));
      const ws = await acceptWebsocket(request, reply);
      const binary = !versionLessThan(request.apiVersion, '1.42');
      ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
        const chunk = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        session.stdin(chunk);
      });
      ws.on('close', () => session.close());
      ws.on('error', () => session.close());
      const send = websocketWriter(ws, binary);
      await session.start({
        output: (_stream, chunk) => send(chunk),
        end: () => ws.close(),
      });
    },
  };
}
