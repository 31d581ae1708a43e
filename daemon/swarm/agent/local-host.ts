// The agent's view of this node (loop.ts AgentHost) over the local container service, the event
// bus, the image service and the network service: what dockerd's executor backend is to its
// container controller. Images are pulled only when missing (no registry credentials: the
// agent has none to send); a swarm network becomes a local bridge of the same name and ID.
import { Conflict, NotFound } from '../../../lib/errors';
import type { ContainerService } from '../../containers/service';
import type { CreateRequest } from '../../containers/create';
import type { EventBus } from '../../events';
import type { ImageService } from '../../images/service';
import type { NetworkService } from '../../networks/service';
import { SWARM_NETWORK_LABEL, type SwarmNetworkRecord } from '../networks';
import { SERVICE_NAME_LABEL, TASK_ID_LABEL, type AgentHost, type AgentTaskContainer } from './loop';
import type { AgentContainerEvent } from './task-runner';

export interface LocalHostDeps {
  containers: ContainerService;
  events: EventBus;
  images?: ImageService;
  networks?: NetworkService;
}

export class LocalAgentHost implements AgentHost {
  /** Network creations one at a time: two tasks on one new network make one bridge. */
  private netLock: Promise<unknown> = Promise.resolve();

  constructor(private readonly d: LocalHostDeps) {}

  find(nameOrId: string): ReturnType<AgentHost['find']> {
    if (nameOrId === '') return undefined;
    const c = this.d.containers.tryGet(nameOrId);
    if (!c) return undefined;
    const test = c.record.config.Healthcheck?.Test ?? [];
    return {
      id: c.id,
      running: c.state.running,
      pid: c.state.pid,
      exitCode: c.state.exitCode,
      error: c.state.error,
      healthcheck: test.length > 0 && test[0] !== 'NONE',
    };
  }

  async create(req: CreateRequest): Promise<{ Id: string }> {
    const r = await this.d.containers.create(req);
    return { Id: r.Id };
  }

  start(id: string): Promise<void> {
    return this.d.containers.start(id);
  }

  stop(id: string, timeoutSec: number | undefined): Promise<void> {
    return this.d.containers.stop(id, timeoutSec === undefined ? {} : { timeoutSec });
  }

  waitExit(id: string, signal: AbortSignal): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    return this.d.containers.wait(id, 'not-running', signal);
  }

  subscribe(listener: (ev: AgentContainerEvent) => void): () => void {
    return this.d.events.subscribe(
      (ev) => {
        if (ev.Type === 'container') listener({ id: ev.Actor.ID, action: ev.Action, attributes: ev.Actor.Attributes });
      },
      { internal: true },
    );
  }

  async pull(image: string): Promise<void> {
    const images = this.d.images;
    if (!images) return;
    try {
      await images.inspect(image);
      return;
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
    await images.pull({ fromImage: image, tag: '', credentials: {} }, () => undefined);
  }

  taskContainers(): AgentTaskContainer[] {
    const out: AgentTaskContainer[] = [];
    for (const c of this.d.containers.all()) {
      const labels = c.record.config.Labels ?? {};
      const taskId = labels[TASK_ID_LABEL];
      if (!taskId) continue;
      out.push({ id: c.id, name: c.record.name, taskId, serviceName: labels[SERVICE_NAME_LABEL] ?? '', running: c.state.running });
    }
    return out;
  }

  async remove(id: string): Promise<void> {
    try {
      await this.d.containers.remove(id, { force: true, volumes: false });
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
  }

  ensureNetwork(net: SwarmNetworkRecord): Promise<string> {
    const run = this.netLock.then(() => this.ensureNetworkNow(net));
    this.netLock = run.catch(() => undefined);
    return run;
  }

  private async ensureNetworkNow(net: SwarmNetworkRecord): Promise<string> {
    const networks = this.d.networks;
    if (!networks) throw new NotFound(`network ${net.Name} not found`);
    const byId = networks.tryGet(net.Id);
    if (byId && byId.id === net.Id) return byId.id;
    const byName = networks.all().find((n) => n.name === net.Name);
    if (byName) {
      if (byName.labels[SWARM_NETWORK_LABEL] === net.Id) return byName.id;
      throw new Conflict(`a local network named ${net.Name} exists on this node and is not the swarm network ${net.Id}`);
    }
    const r = await networks.create(
      {
        Name: net.Name,
        Driver: 'bridge',
        Internal: net.Internal,
        Attachable: true,
        Labels: { ...net.Labels, [SWARM_NETWORK_LABEL]: net.Id },
      },
      { id: net.Id },
    );
    return r.Id;
  }
}
