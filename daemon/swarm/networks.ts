// Swarm-scoped networks (docs/swarm.md, "Networking"): `docker network create -d overlay` on a
// manager stores the network at P/networks/<id> (its name reserved at P/names/networks/<name>);
// every node lists and inspects them beside its local networks; a node that runs a task on one
// makes a local bridge of the same name and ID (agent/local-host.ts), so traffic stays on that
// node (no VXLAN): the divergence written down in docs/divergence.md.
import { Conflict, Forbidden, InvalidParameter, NotFound } from '../../lib/errors';
import type { ClusterKv } from '../../store/cluster/kv';
import type { NetworkRecord } from '../networks/model';
import type { NetworkCreateRequest, NetworkListFilter } from '../networks/service';
import type { NetworkView } from '../networks/views';
import { idOfKey, type ClusterKeys } from './keys';
import { newObjectId } from './local-state';

/** What P/networks/<id> holds: the Engine API's Network, as dockerd shows a swarm network. */
export interface SwarmNetworkRecord {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'swarm';
  Driver: 'overlay';
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: { Driver: string; Options: Record<string, string> | null; Config: { Subnet?: string; Gateway?: string }[] };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, never>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** Label of a node's local bridge standing for a swarm network. */
export const SWARM_NETWORK_LABEL = 'com.docker.swarm.network.id';

export interface SwarmNetworkCreate {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string }[] | null; Options?: Record<string, string> | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

function parse(value: string): SwarmNetworkRecord | undefined {
  try {
    const v = JSON.parse(value) as SwarmNetworkRecord;
    return typeof v.Id === 'string' && typeof v.Name === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export class SwarmNetworks {
  constructor(
    private readonly kv: ClusterKv,
    private readonly keys: ClusterKeys,
    private readonly now: () => string,
  ) {}

  async list(): Promise<SwarmNetworkRecord[]> {
    const all = await this.kv.list(this.keys.networksPrefix);
    return all.entries.map((e) => parse(e.value)).filter((n): n is SwarmNetworkRecord => n !== undefined);
  }

  /** By full ID, exact name or unique ID prefix (as dockerd's FindNetwork); undefined if none. */
  async find(input: string): Promise<SwarmNetworkRecord | undefined> {
    const all = await this.list();
    const exact = all.find((n) => n.Id === input) ?? all.find((n) => n.Name === input);
    if (exact) return exact;
    const byPrefix = input === '' ? [] : all.filter((n) => n.Id.startsWith(input));
    if (byPrefix.length > 1) throw new InvalidParameter(`network ${input} is ambiguous (${byPrefix.length} matches found on name)`);
    return byPrefix[0];
  }

  /** `network create -d overlay` on a manager. */
  async create(req: SwarmNetworkCreate): Promise<{ Id: string; Warning: string }> {
    const name = req.Name;
    if (!name) throw new InvalidParameter('invalid name: ');
    if (['bridge', 'host', 'none', 'ingress'].includes(name) && !req.Ingress) {
      throw new Forbidden(`operation is not permitted on predefined ${name} network `);
    }
    if (req.Ingress) throw new InvalidParameter("ingress networks are not supported by Berth's swarm mode (no routing mesh)");
    const ipamDriver = req.IPAM?.Driver || 'default';
    if (ipamDriver !== 'default') throw new NotFound(`plugin "${ipamDriver}" not found`);
    const id = newObjectId();
    const rec: SwarmNetworkRecord = {
      Name: name,
      Id: id,
      Created: this.now(),
      Scope: 'swarm',
      Driver: 'overlay',
      EnableIPv4: true,
      EnableIPv6: req.EnableIPv6 === true,
      IPAM: { Driver: 'default', Options: req.IPAM?.Options ?? null, Config: (req.IPAM?.Config ?? []).map((c) => ({ ...c })) },
      Internal: req.Internal === true,
      Attachable: req.Attachable === true,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: {},
      Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097', ...(req.Options ?? {}) },
      Labels: { ...(req.Labels ?? {}) },
    };
    const r = await this.kv.txn(
      [{ key: this.keys.name('networks', name), target: 'create', op: '==', revision: 0 }],
      [
        { op: 'put', key: this.keys.network(id), value: JSON.stringify(rec) },
        { op: 'put', key: this.keys.name('networks', name), value: id },
      ],
    );
    if (!r.succeeded) throw new Conflict(`network with name ${name} already exists`);
    return { Id: id, Warning: '' };
  }

  /** `network rm` of a swarm network on a manager: refused while a task of a service uses it. */
  async remove(n: SwarmNetworkRecord): Promise<void> {
    const services = await this.kv.list(this.keys.servicesPrefix);
    for (const e of services.entries) {
      const s = JSON.parse(e.value) as { Spec?: { Name?: string; TaskTemplate?: { Networks?: { Target?: string }[] } } };
      if ((s.Spec?.TaskTemplate?.Networks ?? []).some((x) => x.Target === n.Id || x.Target === n.Name)) {
        throw new Forbidden(`rpc error: code = FailedPrecondition desc = network ${n.Id} is in use by service ${idOfKey(e.key)}`);
      }
    }
    await this.kv.txn(
      [],
      [
        { op: 'delete', key: this.keys.network(n.Id) },
        { op: 'delete', key: this.keys.name('networks', n.Name) },
      ],
    );
  }
}

/** The local network area as the API sees it (main.ts's networks backend, structurally). */
export interface LocalNetworks {
  list(filter: NetworkListFilter, withContainers: boolean): NetworkView[];
  inspect(id: string, withStatus: boolean): NetworkView;
  create(req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }>;
  remove(id: string): Promise<void>;
}

/** What the swarm side offers the network routes (SwarmService, structurally). */
export interface SwarmNetworkSource {
  swarmNetworks(): SwarmNetworks | null;
  requireManager(): Promise<void>;
}

/** A swarm network as the pseudo-record the list filters read. */
function filterRecord(n: SwarmNetworkRecord): NetworkRecord {
  return {
    id: n.Id,
    name: n.Name,
    created: n.Created,
    driver: 'bridge',
    internal: n.Internal,
    attachable: n.Attachable,
    enableIPv6: n.EnableIPv6,
    labels: n.Labels,
    options: n.Options,
    ipamDriver: n.IPAM.Driver,
    ipamOptions: n.IPAM.Options ?? {},
    ipamConfigured: n.IPAM.Config.length > 0,
    ipam: [],
    builtin: false,
  };
}

export function swarmNetworkView(n: SwarmNetworkRecord): NetworkView {
  const { Containers: _none, ...rest } = n;
  return { ...rest, Containers: {} };
}

function isSwarmCreate(req: NetworkCreateRequest): boolean {
  return req.Driver === 'overlay' || req.Scope === 'swarm';
}

/**
 * The network routes' backend in a swarm: local networks as before, swarm-scoped ones from the
 * store beside them (a node's local bridge of a swarm network stands for it: one row, the local
 * one); `-d overlay` creates a swarm network on a manager.
 */
export function swarmAwareNetworks<T extends LocalNetworks>(local: T, swarm: SwarmNetworkSource) {
  const cluster = (): SwarmNetworks | null => swarm.swarmNetworks();
  return {
    ...local,
    list: async (filter: NetworkListFilter, withContainers: boolean): Promise<NetworkView[]> => {
      const views = local.list(filter, withContainers);
      const nets = cluster();
      if (!nets) return views;
      const everyLocal = new Set(local.list({ match: () => true }, false).map((v) => v.Id));
      // The store out of reach: local networks still list (as a node cut off from its managers).
      const stored = await nets.list().catch(() => []);
      for (const n of stored) {
        if (everyLocal.has(n.Id)) continue;
        if (filter.match(filterRecord(n), false, 'swarm', 'overlay')) views.push(swarmNetworkView(n));
      }
      return views;
    },
    inspect: async (id: string, withStatus: boolean): Promise<NetworkView> => {
      try {
        return local.inspect(id, withStatus);
      } catch (err) {
        const nets = cluster();
        if (!(err instanceof NotFound) || !nets) throw err;
        const n = await nets.find(id).catch(() => undefined);
        if (!n) throw err;
        return swarmNetworkView(n);
      }
    },
    create: async (req: NetworkCreateRequest): Promise<{ Id: string; Warning: string }> => {
      const nets = cluster();
      if (!nets || !isSwarmCreate(req)) return local.create(req);
      await swarm.requireManager();
      if (local.list({ match: (n) => n.name === req.Name }, false).length > 0) {
        throw new Conflict(`network with name ${req.Name} already exists`);
      }
      return nets.create({ ...req, Driver: 'overlay' });
    },
    remove: async (id: string): Promise<void> => {
      const nets = cluster();
      const n = nets ? await nets.find(id) : undefined;
      if (!nets || !n) return local.remove(id);
      await swarm.requireManager();
      await nets.remove(n);
      // This node's own bridge of it goes too, if no container uses it.
      await local.remove(n.Id).catch(() => undefined);
    },
  };
}
