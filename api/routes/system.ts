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

/** dockerd's ping: "OK" (empty for HEAD), never cached, announcing builder and swarm state. */
const ping =
  (swarmStatus: () => string) =>
  async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    reply.header('Cache-Control', 'no-cache, no-store, must-revalidate');
    reply.header('Pragma', 'no-cache');
    reply.header('Builder-Version', BUILDER_VERSION);
    reply.header('Swarm', swarmStatus());
    reply.type('text/plain; charset=utf-8');
    if (request.method === 'HEAD') return reply.header('Content-Length', '0').send();
    return reply.send('OK');
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
