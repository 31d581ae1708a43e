// Exec area: create an exec instance in a running container, start it (detached, or with the
// connection hijacked for its stdio), resize its TTY, inspect it. The rules live in daemon/exec.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type * as net from 'node:net';
import { InvalidParameter } from '../../lib/errors';
import { clientMessage } from '../errors';
import type { ExecCreateConfig, ExecInspectResponse, ExecSession, ExecStartOptions } from '../../daemon/exec/service';
import { readJsonBody, readTypedJsonBody } from '../body';
import { EXEC_BODY } from '../go-decode';
import { hijack, isUpgraded, streamMediaType } from '../hijack';
import { pathParam, queryOf, resizeDimension } from '../query';
import { sendJson } from '../reply';
import { encodeFrame, MEDIA_TYPE_RAW_STREAM, STDERR, STDOUT } from '../streams';
import { versionLessThan } from '../version';
import type { Operations } from './operations';

export interface ExecBackend {
  create(container: string, config: ExecCreateConfig): { Id: string };
  /** Throws NotFound for an unknown exec (checked before the connection is hijacked). */
  exists(id: string): void;
  /** Claims the exec for one run; throws Conflict when it ran, runs, or its container does not. */
  start(id: string, opts: ExecStartOptions): ExecSession;
  resize(id: string, height: number, width: number): Promise<void>;
  inspect(id: string): ExecInspectResponse;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function consoleSize(value: unknown, apiVersion: string): number[] | null {
  // Added in 1.42; older clients' values are ignored, as dockerd does.
  if (!Array.isArray(value) || versionLessThan(apiVersion, '1.42')) return null;
  const [h, w] = value as unknown[];
  if (typeof h !== 'number' || typeof w !== 'number' || h < 0 || w < 0)
    throw new InvalidParameter('invalid ConsoleSize: want [height, width]');
  return [h, w];
}

function stringList(v: unknown, field: string): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    throw new InvalidParameter(`json: cannot unmarshal ${typeof v} into Go struct field ExecOptions.${field} of type []string`);
  }
  return v as string[];
}

async function start(backend: ExecBackend, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const id = pathParam(request, 'id');
  const body = readJsonBody(request) ?? {};
  if (!isObject(body)) throw new InvalidParameter('invalid JSON: body must be an object');
  backend.exists(id);
  const opts: ExecStartOptions = {
    detach: body.Detach === true,
    tty: body.Tty === true,
    consoleSize: consoleSize(body.ConsoleSize, request.apiVersion),
  };
  if (opts.detach) {
    await backend.start(id, opts).run();
    return void reply.code(200).send();
  }

  // As dockerd: the connection is hijacked first; a failure to start is written into the stream.
  const contentType = isUpgraded(request) ? streamMediaType(opts.tty, request.apiVersion) : MEDIA_TYPE_RAW_STREAM;
  const socket = hijack(request, reply, contentType);
  const frame = (stream: 'stdout' | 'stderr', chunk: Buffer): Buffer =>
    opts.tty ? chunk : encodeFrame(stream === 'stdout' ? STDOUT : STDERR, chunk);
  let session: ExecSession;
  try {
    session = backend.start(id, opts);
  } catch (err) {
    writeAndEnd(socket, frame('stdout', Buffer.from(`${clientMessage(err)}\r\n`)));
    request.log.error({ err, exec: id }, 'Error running exec in container');
    return;
  }
  socket.on('data', (chunk: Buffer) => {
    if (session.stdin(chunk)) return;
    socket.pause();
    session.onStdinDrain(() => socket.resume());
  });
  socket.on('end', () => session.stdinEnd());
  socket.on('close', () => session.close());
  socket.on('error', () => session.close());
  // Reading the upgraded request's body left the socket paused.
  socket.resume();
  await session.run({
    output: (stream, chunk) => (socket.destroyed ? true : socket.write(frame(stream, chunk))),
    onDrain: (cb) => socket.once('drain', cb),
    end: () => {
      if (!socket.destroyed) socket.end();
    },
    fail: (message) => {
      request.log.error({ exec: id, err: message }, 'Error running exec in container');
      if (!socket.destroyed) socket.write(frame('stdout', Buffer.from(`${message}\r\n`)));
    },
  });
}

function writeAndEnd(socket: net.Socket, data: Buffer): void {
  if (socket.destroyed) return;
  socket.end(data);
}

export function execOperations(backend: ExecBackend): Operations {
  return {
    ContainerExec: async (request, reply) => {
      const body = readTypedJsonBody(request, EXEC_BODY);
      if (body === undefined) throw new InvalidParameter('invalid JSON: got EOF while reading request body');
      if (body === null) throw new InvalidParameter('No exec command specified');
      if (!isObject(body)) throw new InvalidParameter('invalid JSON: body must be an object');
      const cmd = stringList(body.Cmd, 'Cmd');
      if (!cmd || cmd.length === 0) throw new InvalidParameter('No exec command specified');
      const config: ExecCreateConfig = {
        ...(body as ExecCreateConfig),
        Cmd: cmd,
        Env: stringList(body.Env, 'Env'),
        ConsoleSize: consoleSize(body.ConsoleSize, request.apiVersion),
      };
      return sendJson(reply, backend.create(pathParam(request, 'id'), config), 201);
    },

    ExecStart: async (request, reply) => start(backend, request, reply),

    ExecResize: async (request, reply) => {
      const q = queryOf(request);
      const height = resizeDimension(q, 'h');
      const width = resizeDimension(q, 'w');
      await backend.resize(pathParam(request, 'id'), height, width);
      return reply.code(200).send();
    },

    ExecInspect: async (request, reply) => sendJson(reply, backend.inspect(pathParam(request, 'id'))),
  };
}
