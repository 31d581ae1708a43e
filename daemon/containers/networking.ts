// A container's side of networking: its endpoints planned at create, its sandbox made at start
// and removed at exit, `network connect`/`disconnect`, and what inspect and ps show of it. The
// container service calls this (under its per-container lock); the networks themselves are in
// daemon/networks.
import { Conflict, InvalidParameter, NotImplemented, SystemError } from '../../lib/errors';
import { checkConnect, endpointConfig, ownsNetworkStack, planEndpoints } from '../networks/endpoint-plan';
import type { EndpointConfig, NetworkRecord } from '../networks/model';
import type { PortSpec } from '../networks/port-bindings';
import { splitLink, type Sandboxes } from '../networks/sandboxes';
import type { NetworkService } from '../networks/service';
import { endpointIpamConfig, networkSettingsView, networksView, summaryPorts, type ContainerNetView } from '../networks/settings-view';
import type { ContainerConfig, EndpointSettings, HostConfig, NetworkingConfig, NetworkSettings, PortSummary } from './api-types';
import type { Container } from './model';
import { compareStrings } from '../../lib/order';

/** What this needs of the container service. */
export interface ContainerStore {
  get(input: string): Container;
  tryGet(input: string): Container | undefined;
  saveRecord(c: Container): void;
  /** Rewrites the container's hostname, hosts and resolv.conf. */
  writeEtc(c: Container, net?: { addresses: string[]; nameserver: string | null }): void;
}

/** The ports a container exposes and publishes, as the network layer takes them. */
export function portSpecOf(config: ContainerConfig, host: HostConfig): PortSpec {
  return { bindings: host.PortBindings ?? {}, exposed: Object.keys(config.ExposedPorts ?? {}), publishAll: host.PublishAllPorts === true };
}

const linkName = (input: string): string => (input.startsWith('/') ? input : `/${input}`);

const modeOf = (c: Container): string => c.record.hostConfig.NetworkMode || 'default';

/** A network by ID or name (undefined when there is none). */
export type NetworkLookup = (input: string) => NetworkRecord | undefined;

export class ContainerNetworking {
  constructor(
    private readonly store: ContainerStore,
    /** The daemon's --dns, for containers without their own. */
    private readonly defaultDns: string[],
    private readonly networks?: NetworkService,
    private readonly sandboxes?: Sandboxes,
  ) {}

  /** The endpoints of a new container (none without the network layer). */
  plan(host: HostConfig, networking: NetworkingConfig | null, legacyMac: string): EndpointConfig[] {
    return this.networks ? planEndpoints(host, networking, this.networks, legacyMac) : [];
  }

  // ------------------------------------------------------------------ start and exit

  /** The container's netns with its endpoints (own-stack modes with networks); etc files follow. */
  async setUp(c: Container): Promise<{ netnsPath: string; firewall: Promise<void> } | undefined> {
    const mode = modeOf(c);
    if (mode.startsWith('container:')) {
      // The other container's stack, hostname and resolver files, as dockerd shares them.
      const other = this.store.get(mode.slice('container:'.length));
      c.record.config.Hostname = other.record.config.Hostname;
      c.record.hostnamePath = other.record.hostnamePath;
      c.record.hostsPath = other.record.hostsPath;
      c.record.resolvConfPath = other.record.resolvConfPath;
      this.store.saveRecord(c);
      return undefined;
    }
    if (c.record.networks === undefined && this.networks && ownsNetworkStack(mode)) {
      // Created before Berth had networks: planned now, as a new container would be.
      c.record.networks = planEndpoints(c.record.hostConfig, c.record.networkingConfig, this.networks);
      this.store.saveRecord(c);
    }
    if (!this.sandboxes || !this.networks || !ownsNetworkStack(mode) || (c.record.networks ?? []).length === 0) {
      this.store.writeEtc(c);
      this.announceModeNetwork(c, 'connect');
      return undefined;
    }
    this.checkLinkTargets(c);
    // Networks named at create but unknown then (or removed since) are looked up now, and a
    // missing one is reported as dockerd reports it.
    const info = await this.sandboxes.setUp(this.netInput(c, this.resolveEndpoints(c, this.networks)));
    this.store.writeEtc(c, info);
    return { netnsPath: info.netnsPath, firewall: info.firewall };
  }

  /** After the task: the sandbox goes (never throws). */
  async tearDown(c: Container): Promise<void> {
    await this.sandboxes?.tearDown(c.record.id);
    this.announceModeNetwork(c, 'disconnect');
  }

  /**
   * Live restore: the sandbox a running container kept across the daemon's restart is taken
   * over (published ports' proxies reopened, its --dns servers known to the embedded DNS).
   */
  async adopt(c: Container): Promise<void> {
    if (!this.sandboxes || !this.networks || !ownsNetworkStack(modeOf(c))) return;
    const eps = c.record.networks ?? [];
    if (eps.length === 0 || this.sandboxes.netnsPath(c.record.id) === undefined) return;
    await this.sandboxes.adopt(this.netInput(c, eps));
  }

  /**
   * A removed container's sandbox, should one be left (never throws); with kernelAfter (an
   * AutoRemove) the netns may still be going from the kernel when it resolves.
   */
  async forget(id: string, opts: { kernelAfter?: boolean } = {}): Promise<void> {
    await this.sandboxes?.tearDown(id);
    if (!opts.kernelAfter) await this.sandboxes?.kernelGone(id);
  }

  private resolveEndpoints(c: Container, networks: NetworkService): EndpointConfig[] {
    let changed = false;
    const out = (c.record.networks ?? []).map((e) => {
      if (e.networkId) {
        networks.get(e.networkId);
        return e;
      }
      const n = networks.get(e.networkName);
      changed = true;
      return endpointConfig(n, e.networkName, {
        Aliases: e.aliases,
        Links: e.links,
        IPAMConfig: endpointIpamConfig(e) ?? undefined,
        MacAddress: e.macAddress,
        DriverOpts: e.driverOpts,
        GwPriority: e.gwPriority,
      });
    });
    if (changed) {
      c.record.networks = out;
      this.store.saveRecord(c);
    }
    return out;
  }

  private netInput(c: Container, endpoints: EndpointConfig[]): Parameters<Sandboxes['setUp']>[0] {
    const hc = c.record.hostConfig;
    return {
      id: c.record.id,
      name: c.record.name,
      hostname: c.record.config.Hostname ?? '',
      endpoints,
      ports: portSpecOf(c.record.config, hc),
      dns: hc.Dns?.length ? hc.Dns : this.defaultDns,
    };
  }

  /** host and none modes have no endpoint, but dockerd still reports joining and leaving them. */
  private announceModeNetwork(c: Container, action: 'connect' | 'disconnect'): void {
    const mode = modeOf(c);
    if (mode !== 'host' && mode !== 'none') return;
    const n = this.networks?.tryGet(mode);
    if (n) this.networks?.publishNetworkEvent(action, n, c.record.id);
  }

  /** /etc/hosts lines for --link targets on the default bridge (user networks resolve them by DNS). */
  legacyLinkHosts(c: Container): { ip: string; names: string[] }[] {
    const out: { ip: string; names: string[] }[] = [];
    const bridge = this.networks?.tryGet('bridge');
    if (!this.sandboxes || !bridge) return out;
    for (const link of c.record.hostConfig.Links ?? []) {
      const [target, alias] = splitLink(link);
      const other = this.store.tryGet(target);
      if (!other) continue;
      const ep = this.sandboxes.endpointsOf(other.record.id).find((e) => e.networkId === bridge.id);
      if (ep)
        out.push({
          ip: ep.ip,
          names: [...new Set([alias, other.record.config.Hostname ?? '', other.record.name])].filter((n) => n !== ''),
        });
    }
    return out;
  }

  /**
   * HostConfig.Links at create, checked and written as dockerd keeps them: "/target:/name/alias".
   * The target must exist and have a network stack of its own kind.
   */
  legacyLinks(links: string[], name: string): string[] {
    return links.map((link) => {
      const [target, alias] = splitLink(link);
      const other = this.store.tryGet(target);
      if (!other) throw new InvalidParameter(`could not get container for ${target}: No such container: ${target}`);
      if (modeOf(other) === 'host') {
        throw new InvalidParameter(
          "conflicting options: host type networking can't be used with links. This would result in undefined behavior",
        );
      }
      return `/${other.record.name}:/${name}/${alias}`;
    });
  }

  /**
   * The container holding the legacy link `/parent/alias` (`docker rm --link`, moby's rmLink). As
   * in moby the name is first looked up as a container (a link name resolves to its target), and
   * a plain container name is that container's own "default link name".
   */
  linkParent(input: string): Container {
    const name = linkName(input);
    const cut = name.lastIndexOf('/');
    const parent = cut > 0 ? this.store.tryGet(name.slice(1, cut)) : undefined;
    if (parent?.record.hostConfig.Links?.some((l) => l.endsWith(`:${name}`))) return parent;
    this.store.get(input); // No such container, as for any name that resolves to nothing
    throw new SystemError('Conflict, cannot remove the default link name of the container');
  }

  /** Drops the link `/parent/alias` from its parent (under the parent's lock). */
  dropLegacyLink(parent: Container, input: string): void {
    const name = linkName(input);
    const links = (parent.record.hostConfig.Links ?? []).filter((l) => !l.endsWith(`:${name}`));
    parent.record.hostConfig.Links = links.length > 0 ? links : undefined; // moby's inspect: null
    this.store.saveRecord(parent);
  }

  /** Legacy links need their targets running when the container starts (dockerd's 409). */
  private checkLinkTargets(c: Container): void {
    for (const link of c.record.hostConfig.Links ?? []) {
      const [target, alias] = splitLink(link);
      const other = this.store.tryGet(target);
      if (!other || !other.state.running) {
        throw new Conflict(`Cannot link to a non running container: /${target} AS /${c.record.name}/${alias}`);
      }
    }
  }

  /**
   * Legacy links' environment (moby's links.ToEnv): ALIAS_NAME, ALIAS_PORT and ALIAS_PORT_<n>_<PROTO>*
   * for the target's exposed ports, ALIAS_ENV_* for its Env (HOME and PATH left out).
   */
  linkEnv(c: Container): string[] {
    const bridge = this.networks?.tryGet('bridge');
    if (!bridge || !this.sandboxes) return [];
    const env: string[] = [];
    for (const link of c.record.hostConfig.Links ?? []) {
      const [target, alias] = splitLink(link);
      const other = this.store.tryGet(target);
      if (!other) continue;
      const ip = this.sandboxes.endpointsOf(other.record.id).find((e) => e.networkId === bridge.id)?.ip;
      if (!ip) continue;
      env.push(
        ...linkVariables(
          alias,
          `/${c.record.name}/${alias}`,
          ip,
          Object.keys(other.record.config.ExposedPorts ?? {}),
          other.record.config.Env ?? [],
        ),
      );
    }
    return env;
  }

  renamed(id: string, oldName: string, newName: string): void {
    this.sandboxes?.renamed(id, oldName, newName);
  }

  // ------------------------------------------------------------------ connect and disconnect

  /** The network a connect or disconnect names (force: a missing one is not an error). */
  network(input: string, force = false): NetworkRecord | undefined {
    if (!this.networks) throw new NotImplemented('networking is not available');
    return force ? this.networks.tryGet(input) : this.networks.get(input);
  }

  /** `docker network connect` (the caller holds the container's lock): recorded, and live when it runs. */
  async connect(c: Container, n: NetworkRecord, settings: EndpointSettings | undefined): Promise<void> {
    const current = c.record.networks ?? [];
    checkConnect(c.record.hostConfig.NetworkMode, current, n, c.record.name);
    const cfg = endpointConfig(n, n.name, settings);
    if (c.state.running && this.sandboxes) {
      await this.sandboxes.attach(this.netInput(c, [...current, cfg]), cfg, false);
      this.store.writeEtc(c, this.sandboxes.etcFacts(c.record.id));
    }
    c.record.networks = [...current, cfg];
    this.store.saveRecord(c);
  }

  /** `docker network disconnect` (the caller holds the lock); n is undefined for a forced one of a gone network. */
  async disconnect(c: Container, n: NetworkRecord | undefined, input: string): Promise<void> {
    const id = c.record.id;
    const mode = modeOf(c);
    // runconfig.ErrConflictHostNetwork only for a container that is on the host network itself.
    if (n && n.driver === 'host' && mode === 'host') {
      throw new InvalidParameter('container cannot be disconnected from host network or connected to host network');
    }
    const current = c.record.networks ?? [];
    const cfg = current.find((e) => (n ? e.networkId === n.id : e.networkName === input || e.networkId === input));
    if (!cfg) {
      if (n && !ownsNetworkStack(mode) && mode === n.name)
        throw new InvalidParameter(`container ${id} is not connected to network ${n.name}`);
      // dockerd's texts (DisconnectFromNetwork for a stopped container, disconnectFromNetwork for
      // a running one), both plain errors that it answers 500: kept (the fuzzer allows them).
      const name = n?.name ?? input;
      throw new SystemError(
        c.state.running ? `container ${id} is not connected to network ${name}` : `container ${id} is not connected to the network ${name}`,
      );
    }
    if (c.state.running && this.sandboxes) {
      await this.sandboxes.detach(id, cfg.networkId);
      this.store.writeEtc(c, this.sandboxes.etcFacts(id));
    }
    c.record.networks = current.filter((e) => e !== cfg);
    this.store.saveRecord(c);
  }

  // ------------------------------------------------------------------ what inspect and ps show

  private view(c: Container): ContainerNetView {
    const id = c.record.id;
    // The views read the live endpoints and netns only of a running container: the other
    // containers (most of a `docker ps -a`) need no read of them.
    const running = c.state.running && !c.state.restarting;
    return {
      id,
      running,
      mode: modeOf(c),
      configs: c.record.networks ?? [],
      endpoints: running ? (this.sandboxes?.endpointsOf(id) ?? []) : [],
      ports: portSpecOf(c.record.config, c.record.hostConfig),
      netnsPath: running ? this.sandboxes?.netnsPath(id) : undefined,
    };
  }

  private readonly lookup: NetworkLookup = (id) => this.networks?.tryGet(id);

  /**
   * A lookup for one listing that reads each network once: the containers of a `docker ps`
   * share a few networks, and each read is a query and a JSON parse. Only for the span of one
   * answer (a network changed meanwhile shows as it was when the listing began).
   */
  listingLookup(): NetworkLookup {
    const seen = new Map<string, NetworkRecord | undefined>();
    return (id) => {
      if (!seen.has(id)) seen.set(id, this.lookup(id));
      return seen.get(id);
    };
  }

  settings(c: Container): NetworkSettings {
    return networkSettingsView(this.view(c), this.lookup, this.lookup);
  }

  /**
   * The MAC address asked for on the container's main network (bridge or user-defined), '' if
   * none: what clients before API 1.52 read as Config.MacAddress (moby's getInspectData).
   */
  desiredMacAddress(c: Container): string {
    const mode = modeOf(c);
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return '';
    const name = mode === 'default' ? 'bridge' : mode;
    const cfg = (c.record.networks ?? []).find((e) => e.networkName === name || e.networkId === name);
    return cfg?.macAddress ?? '';
  }

  /** `docker ps`'s Ports and NetworkSettings.Networks. */
  summary(c: Container, lookup = this.lookup): { ports: PortSummary[]; networks: Record<string, EndpointSettings> } {
    const v = this.view(c);
    return { ports: summaryPorts(v), networks: networksView(v, lookup, lookup) };
  }

  /** Names and IDs a `network=` filter matches: the networks the container is configured on. */
  filterNames(c: Container, lookup = this.lookup): string[] {
    const names: string[] = [];
    for (const e of c.record.networks ?? []) {
      const n = lookup(e.networkId);
      names.push(e.networkId, n?.name ?? e.networkName);
    }
    const mode = modeOf(c);
    if (mode === 'host' || mode === 'none') {
      const n = lookup(mode);
      names.push(mode, ...(n ? [n.id] : []));
    }
    return names;
  }

  /** The ports a `publish=` filter looks at. */
  published(c: Container): PortSummary[] {
    return summaryPorts(this.view(c));
  }
}

/** One link's variables, in moby's order (ranges of ports get no _START/_END variables here). */
export function linkVariables(alias: string, linkName: string, ip: string, exposed: string[], childEnv: string[]): string[] {
  const prefix = alias.toUpperCase().replace(/-/g, '_');
  const ports = exposed
    .map((k) => {
      const [p, proto = 'tcp'] = k.split('/');
      return { port: Number(p), proto: proto.toLowerCase() };
    })
    .filter((p) => Number.isInteger(p.port))
    // moby sorts by number, tcp first on a tie; the first one is the default port.
    .sort((a, b) => a.port - b.port || (a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : compareStrings(a.proto, b.proto)));
  const env: string[] = [];
  if (ports.length > 0) env.push(`${prefix}_PORT=${ports[0].proto}://${ip}:${ports[0].port}`);
  for (const p of ports) {
    const key = `${prefix}_PORT_${p.port}_${p.proto.toUpperCase()}`;
    env.push(`${key}=${p.proto}://${ip}:${p.port}`, `${key}_ADDR=${ip}`, `${key}_PORT=${p.port}`, `${key}_PROTO=${p.proto}`);
  }
  env.push(`${prefix}_NAME=${linkName}`);
  for (const v of childEnv) {
    const eq = v.indexOf('=');
    if (eq < 0) continue;
    const k = v.slice(0, eq);
    if (k === 'HOME' || k === 'PATH') continue;
    env.push(`${prefix}_ENV_${k}=${v.slice(eq + 1)}`);
  }
  return env;
}
