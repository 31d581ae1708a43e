// Swarm-scoped networks (docs/swarm.md, "Networking"): `docker network create -d overlay` on a
// manager stores the network at P/networks/<id> (its name reserved at P/names/networks/<name>);
// every node lists and inspects them beside its local networks; a node that runs a task on one
// makes a local bridge of the same name and ID (agent/local-host.ts), so traffic stays on that
// node (no VXLAN): the divergence written down in docs/divergence.md.
import { Conflict, Forbidden, InvalidParameter, NotFound } from '../../lib/errors';
import type { ClusterKv } from '../../store/cluster/kv';
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
