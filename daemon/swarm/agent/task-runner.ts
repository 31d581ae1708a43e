// The TaskController of task-status.ts over the local container service, as dockerd's container
// controller (daemon/cluster/executor/container/controller.go) drives its daemon: prepare pulls
// if it can (a failed pull is only logged: the create then says whether the image is there)
// and creates the container, an existing one of the task's name counting as prepared; start
// starts it and, with a healthcheck, waits for healthy (unhealthy: stop it, fail with the exit);
// wait resolves on exit 0, fails with "task: non-zero exit (N)" otherwise (the unhealthy cause
// when the health watch stopped it); shutdown stops it with the spec's grace period.
// The container service is reached through the narrow AgentContainers view below, which the
// stage-2 wiring implements over ContainerService and the EventBus.
import type { CreateRequest } from '../../containers/create';
import type { TaskContainerPlan } from './task-container';
import { exitOutcome, startHealthOutcome, type ContainerStatus, type StartEvent, type TaskController } from './task-status';

/** A container event for one container, as the event bus publishes it. */
export interface AgentContainerEvent {
  id: string;
  action: string;
  attributes: Record<string, string>;
}

/** What the runner needs of the container service. */
export interface AgentContainers {
  /** The container of that name or ID, if any. */
  find(nameOrId: string): { id: string; running: boolean; pid: number; exitCode: number; error: string; healthcheck: boolean } | undefined;
  create(req: CreateRequest): Promise<{ Id: string }>;
  start(id: string): Promise<void>;
  stop(id: string, timeoutSec: number | undefined): Promise<void>;
  /** Resolves with the exit of the current run (at once if not running). */
  waitExit(id: string, signal: AbortSignal): Promise<{ StatusCode: number; Error: { Message: string } | null }>;
  /** Container events from now on; answers the unsubscribe. */
  subscribe(listener: (ev: AgentContainerEvent) => void): () => void;
  /** Pulls the image (may be absent: DOCKER_SERVICE_PREFER_OFFLINE_IMAGE behaviour). */
  pull?(image: string): Promise<void>;
}

export interface TaskRunnerOptions {
  log?: (msg: string, err?: unknown) => void;
}

export class TaskRunner implements TaskController {
  private id = '';
  private unhealthy = false;

  constructor(
    private readonly containers: AgentContainers,
    private readonly plan: TaskContainerPlan,
    private readonly opts: TaskRunnerOptions = {},
  ) {}

  /** The container's ID once prepared (or found). */
  get containerId(): string {
    return this.id || this.containers.find(this.plan.name)?.id || '';
  }

  async prepare(): Promise<void> {
    const existing = this.containers.find(this.plan.name);
    if (existing) {
      this.id = existing.id;
      return;
    }
    if (this.containers.pull) {
      try {
        await this.containers.pull(this.plan.request.config.Image ?? '');
      } catch (err) {
        this.opts.log?.('pulling image failed', err);
      }
    }
    const { Id } = await this.containers.create(this.plan.request);
    this.id = Id;
  }

  async start(): Promise<void> {
    const id = this.containerId;
    const c = this.containers.find(id);
    if (c?.running) return;
    if (!c?.healthcheck) {
      await this.containers.start(id);
      return;
    }
    // Subscribed before the start, so no health event is missed.
    let settle: (err: Error | null) => void = () => undefined;
    const outcome = new Promise<Error | null>((resolve) => (settle = resolve));
    let sawUnhealthy = false;
    const unsubscribe = this.containers.subscribe((ev) => {
      if (ev.id !== id) return;
      const se = toStartEvent(ev);
      if (!se) return;
      const r = startHealthOutcome(se, sawUnhealthy);
      if (r.kind === 'done') settle(null);
      else if (r.kind === 'error') settle(r.error);
      else if (r.kind === 'shutdown') {
        sawUnhealthy = true;
        this.containers
          .stop(id, this.plan.stopGraceSeconds)
          .catch((err: unknown) => this.opts.log?.('unhealthy container shutdown failed', err));
      }
    });
    try {
      await this.containers.start(id);
      const err = await outcome;
      if (err) throw err;
    } finally {
      unsubscribe();
    }
  }

  /** `signal` abandons the wait (the task changed meanwhile): it then rejects, its outcome unused. */
  async wait(signal?: AbortSignal): Promise<void> {
    const id = this.containerId;
    const abort = new AbortController();
    const onAbort = (): void => abort.abort();
    if (signal?.aborted) abort.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    // Unhealthy while running: stop it; the exit then carries the cause.
    const unsubscribe = this.containers.subscribe((ev) => {
      if (ev.id !== id || ev.action !== 'health_status: unhealthy' || this.unhealthy) return;
      this.unhealthy = true;
      this.containers.stop(id, this.plan.stopGraceSeconds).catch((err: unknown) => this.opts.log?.('shutdown failed on unhealthy', err));
    });
    try {
      const r = await this.containers.waitExit(id, abort.signal);
      const err = exitOutcome({ exitCode: r.StatusCode, error: r.Error?.Message, unhealthy: this.unhealthy });
      if (err) throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      unsubscribe();
      abort.abort();
    }
  }

  async shutdown(): Promise<void> {
    const c = this.containers.find(this.containerId || this.plan.name);
    if (!c || !c.running) return;
    await this.containers.stop(c.id, this.plan.stopGraceSeconds);
  }

  containerStatus(): Promise<ContainerStatus | undefined> {
    const c = this.containers.find(this.containerId || this.plan.name);
    if (!c) return Promise.resolve(undefined);
    return Promise.resolve({ ContainerID: c.id, PID: c.running ? c.pid : 0, ExitCode: c.running ? 0 : c.exitCode });
  }
}

function toStartEvent(ev: AgentContainerEvent): StartEvent | null {
  switch (ev.action) {
    case 'die':
      return { action: 'die', exitCode: Number(ev.attributes.exitCode ?? '0') || 0 };
    case 'destroy':
      return { action: 'destroy' };
    case 'health_status: healthy':
    case 'health_status: unhealthy':
      return { action: ev.action };
    default:
      return null;
  }
}
