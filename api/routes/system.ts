// System area: /_ping, /version, /info. The backend supplies the facts; this file only shapes
// them for the API version the client speaks, as dockerd's system router does.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SystemInfo, SystemVersion } from '../../daemon/system/types';
import { sendJson } from '../reply';
import { versionLessThan } from '../version';
import type { Operations } from './operations';

export interface SystemBackend {
  version(): Promise<SystemVersion>;
  info(): Promise<SystemInfo>;
}

/** The builder generation announced on /_ping: "1" is the classic builder (no BuildKit). */
export const BUILDER_VERSION = '1';

/** dockerd's ping: "OK" (empty for HEAD), never cached, announcing builder and swarm state. */
async function ping(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  reply.header('Cache-Control', 'no-cache, no-store, must-revalidate');
  reply.header('Pragma', 'no-cache');
  reply.header('Builder-Version', BUILDER_VERSION);
  reply.header('Swarm', 'inactive');
  reply.type('text/plain; charset=utf-8');
  if (request.method === 'HEAD') return reply.header('Content-Length', '0').send();
  return reply.send('OK');
}

/** Ping needs no backend: it answers even when nothing else is wired. */
export function pingOperations(): Operations {
  return { SystemPing: ping, SystemPingHead: ping };
}

/** GET /info as a client at `version` expects it (fields added or dropped over API versions). */
export function infoForVersion(info: SystemInfo, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...info };
  if (versionLessThan(version, '1.44')) {
    // Runtime status arrived in 1.44.
    out.Runtimes = Object.fromEntries(
      Object.entries(info.Runtimes).map(([name, rt]) => {
        const { status: _status, ...rest } = rt;
        return [name, rest];
      }),
    );
  }
  if (versionLessThan(version, '1.46')) delete out.Containerd;
  if (versionLessThan(version, '1.47') && info.RegistryConfig) {
    out.RegistryConfig = {
      AllowNondistributableArtifactsCIDRs: null,
      AllowNondistributableArtifactsHostnames: null,
      ...info.RegistryConfig,
    };
  }
  if (versionLessThan(version, '1.49')) {
    delete out.FirewallBackend;
    // Older clients compare these to flag a mismatch; equal means "as expected".
    out.ContainerdCommit = { ...info.ContainerdCommit, Expected: info.ContainerdCommit.ID };
    out.RuncCommit = { ...info.RuncCommit, Expected: info.RuncCommit.ID };
    out.InitCommit = { ...info.InitCommit, Expected: info.InitCommit.ID };
  }
  if (versionLessThan(version, '1.50')) {
    delete out.DiscoveredDevices;
    out.BridgeNfIptables = false;
    out.BridgeNfIp6tables = false;
  }
  if (versionLessThan(version, '1.53')) delete out.NRI;
  return out;
}

export function systemOperations(backend: SystemBackend): Operations {
  return {
    ...pingOperations(),
    SystemVersion: async (_request, reply) => sendJson(reply, await backend.version()),
    SystemInfo: async (request, reply) => sendJson(reply, infoForVersion(await backend.info(), request.apiVersion)),
  };
}
