// System area: /_ping, /version, /info. The backend supplies the facts; api/version-shapes.ts
// shapes them for the API version the client speaks, as dockerd's system router does.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SystemInfo, SystemVersion } from '../../daemon/system/types';
import { sendJson } from '../reply';
import { shapes } from '../version-shapes';
import type { Operations } from './operations';

export interface SystemBackend {
  version(): Promise<SystemVersion>;
  info(): Promise<SystemInfo>;
  /** The ping's Swarm header: "inactive", "active/manager", "active/worker", "error". */
  swarmStatus?(): string;
}

/** The builder generation announced on /_ping: "1" is the classic builder (no BuildKit). */
export const BUILDER_VERSION = '1';

/**
 * The headers of dockerd's ping, in the order sent (names lower-case, as fastify sends them):
 * never cached, announcing builder and swarm state (`swarm`: inactive, active/manager...). The
 * one list both the route and the server's fast path (api/ping-fast-path.ts) answer with.
 */
export function pingHeaders(swarm: string): ReadonlyArray<readonly [string, string]> {
  return [
    ['cache-control', 'no-cache, no-store, must-revalidate'],
    ['pragma', 'no-cache'],
    ['builder-version', BUILDER_VERSION],
    ['swarm', swarm],
    ['content-type', 'text/plain; charset=utf-8'],
  ];
}

/** The body of GET /_ping (HEAD has none, and says Content-Length: 0). */
export const PING_BODY = 'OK';

/** dockerd's ping: "OK" (empty for HEAD), with pingHeaders. */
const ping =
  (swarmStatus: () => string) =>
  async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    for (const [name, value] of pingHeaders(swarmStatus())) reply.header(name, value);
    if (request.method === 'HEAD') return reply.header('content-length', '0').send();
    return reply.send(PING_BODY);
  };

/** Ping needs no backend: it answers even when nothing else is wired. */
export function pingOperations(swarmStatus: () => string = () => 'inactive'): Operations {
  return { SystemPing: ping(swarmStatus), SystemPingHead: ping(swarmStatus) };
}

export function systemOperations(backend: SystemBackend): Operations {
  return {
    ...pingOperations(() => backend.swarmStatus?.() ?? 'inactive'),
    SystemVersion: async (_request, reply) => sendJson(reply, await backend.version()),
    SystemInfo: async (request, reply) => sendJson(reply, shapes.info(await backend.info(), request.apiVersion)),
  };
}
