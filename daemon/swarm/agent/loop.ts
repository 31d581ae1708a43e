// The agent loop every node runs while it is in a swarm (docs/swarm.md, "Who does what"): it
// lists P/tasks (and its own P/task-status) at a revision and watches P/tasks from the next one;
// each task whose NodeID is this node's goes step by step through stepTask over a controller of
// the local container service (task-runner.ts), one task at a time per task (a worker each),
// every transition written to P/task-status/<id> in a transaction that also checks the task
// still exists. A task deleted, or placed on another node, has its container stopped and
// removed with its secret/config files. After a watch error (etcd unreachable, compaction) the
// loop lists again and reconciles the task containers found locally (label
// com.docker.swarm.task.id) against the listing: those of tasks gone are removed, the rest
// reported again. Nothing here sleeps on a wall-clock promise the tests cannot drive: timers are
// setTimeout (mockable) and every promise is awaited or tracked.
import type { Logger } from 'pino';
import { ClusterStoreUnavailable, errorMessage } from '../../../lib/errors';
import type { ClusterKv, KvEvent, KvWatch } from '../../../store/cluster/kv';
import { idOfKey, type ClusterKeys } from '../keys';
import { openData } from '../seal';
import type { StoredObject } from '../secret-config';
import { taskContainerPlan, type Task, type TaskNetwork, type TaskNode, type TaskRunInput } from './task-container';
import { removeTaskFiles, taskFileInputs, writeTaskFiles, type TaskFileMount } from './task-files';
import { TaskRunner, type AgentContainers } from './task-runner';
import {
  TemporaryTaskError,
  stateRank,
  stepTask,
  type ContainerStatus,
  type TaskController,
  type TaskState,
  type TaskStatus,
} from './task-status';
import type { SwarmNetworkRecord } from '../networks';

export const TASK_ID_LABEL = 'com.docker.swarm.task.id';
export const SERVICE_NAME_LABEL = 'com.docker.swarm.service.name';

/** A local container carrying a task's label. */
export interface AgentTaskContainer {
  id: string;
  name: string;
  taskId: string;
  serviceName: string;
  running: boolean;
}

/** What the loop needs of this node beyond the runner's view. */
export interface AgentHost extends AgentContainers {
  /** Every local container labelled com.docker.swarm.task.id. */
  taskContainers(): AgentTaskContainer[];
  /** Removes the container (forcibly: it was stopped first when it could be). */
  remove(id: string): Promise<void>;
  /** This node's local network standing for the swarm network (made if missing): its ID. */
  ensureNetwork(net: SwarmNetworkRecord): Promise<string>;
}

export interface AgentLoopOptions {
  kv: ClusterKv;
  keys: ClusterKeys;
  nodeId: string;
  /** The cluster key held by this node (opens secret/config payloads). */
  clusterKey: Buffer;
  host: AgentHost;
  /** Where task files go: <exec-root>/swarm/tasks. */
  filesRoot: string;
  node: Omit<TaskNode, 'id'>;
  logger?: Logger;
  now?: () => Date;
  /** First retry delay (doubled each time, capped at retryMaxMs). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Attempts of one task step (a status write, a temporary error) before waiting for the next change. */
  maxAttempts?: number;
  /** How often the tasks are listed again while the watch is up (default 60 s). */
  resyncMs?: number;
}

/**
 * A watch that stops delivering without an error (the etcd3 client has had such reports) would
 * leave a task assigned here never started: the tasks are listed again this often regardless, as
 * informers resync, and only the tasks the listing shows changed are stepped.
 */
const DEFAULT_RESYNC_MS = 60_000;

/** What P/services/<id> holds, as far as the agent reads it. */
interface StoredService {
  ID?: string;
  Spec?: { Name?: string; Labels?: Record<string, string>; EndpointSpec?: TaskRunInput['endpointSpec'] };
  Endpoint?: { Spec?: TaskRunInput['endpointSpec'] };
}

/** What P/secrets/<id> and P/configs/<id> hold (secret-config.ts StoredObject), as far as read here. */
type StoredPayload = Partial<Pick<StoredObject, 'ID' | 'Sealed'>>;

interface Worker {
  running: boolean;
  dirty: boolean;
  /** Abandons a wait for the container's exit (the task changed). */
  abort?: AbortController;
  done?: Promise<void>;
}

/** Desired states at or past shutdown all mean "shut it down" (swarmkit's exec.Do). */
function desiredForStep(d: TaskState | undefined): TaskState | undefined {
  return stateRank(d) >= stateRank('shutdown') ? 'shutdown' : d;
}

function parse<T>(value: string): T | undefined {
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

export class AgentLoop {
  private readonly tasks = new Map<string, Task>();
  private readonly statuses = new Map<string, { status: TaskStatus; modRevision: number }>();
  private readonly workers = new Map<string, Worker>();
  /** Stop grace of each task seen, for the stop before a removal. */
  private readonly grace = new Map<string, number | undefined>();
  private watch: KvWatch | undefined;
  private stopped = false;
  private syncing: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private periodicTimer: NodeJS.Timeout | undefined;
  private syncFailures = 0;
  private readonly log: Logger | undefined;

  constructor(private readonly o: AgentLoopOptions) {
    this.log = o.logger;
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  private backoff(attempt: number): number {
    const base = this.o.retryBaseMs ?? 500;
    return Math.min(this.o.retryMaxMs ?? 10_000, base * 2 ** Math.min(attempt, 20));
  }

  /** Starts: the first listing in the background, retried until it succeeds. */
  start(): void {
    this.scheduleSync(0);
  }

  /** Stops watching; task containers stay as they are (berthd stopping). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.resyncTimer);
    clearTimeout(this.periodicTimer);
    for (const w of this.workers.values()) w.abort?.abort();
    await this.watch?.cancel().catch(() => undefined);
    this.watch = undefined;
    await this.syncing?.catch(() => undefined);
    await Promise.all([...this.workers.values()].map((w) => w.done?.catch(() => undefined)));
  }

  /** Leaving the swarm: stops, then removes every task container and its files (as dockerd's leave). */
  async stopAndRemoveAll(): Promise<void> {
    await this.stop();
    for (const c of this.o.host.taskContainers()) {
      await this.removeContainer(c.id, this.grace.get(c.taskId)).catch((err: unknown) =>
        this.log?.warn({ err: errorMessage(err), container: c.id }, 'swarm agent: removing a task container failed'),
      );
      await removeTaskFiles(this.o.filesRoot, c.taskId).catch(() => undefined);
    }
  }

  // ------------------------------------------------------------------ listing and watching

  /** A listing after `delayMs`; `full` steps every task of this node, else only those that changed. */
  private scheduleSync(delayMs: number, full = true): void {
    if (this.stopped) return;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      // A listing under way: this one follows it (never dropped, or the loop could end unwatched).
      if (this.syncing) {
        this.scheduleSync(Math.max(delayMs, 100), full);
        return;
      }
      const p = this.sync(full)
        .then(() => {
          this.syncFailures = 0;
          this.schedulePeriodic();
        })
        .catch((err: unknown) => {
          this.log?.warn({ err: errorMessage(err) }, 'swarm agent: cannot list tasks; retrying');
          this.scheduleSync(this.backoff(this.syncFailures++));
        })
        .finally(() => {
          if (this.syncing === p) this.syncing = undefined;
        });
      this.syncing = p;
    }, delayMs);
  }

  /** The next periodic listing, unless another one is already due. */
  private schedulePeriodic(): void {
    if (this.stopped) return;
    clearTimeout(this.periodicTimer);
    this.periodicTimer = setTimeout(() => {
      this.periodicTimer = undefined;
      if (this.resyncTimer || this.syncing) return; // a listing is due anyway; it re-arms this one
      this.scheduleSync(0, false);
    }, this.o.resyncMs ?? DEFAULT_RESYNC_MS);
  }

  private async sync(full: boolean): Promise<void> {
    const { kv, keys, nodeId } = this.o;
    await this.watch?.cancel().catch(() => undefined);
    this.watch = undefined;
    const listed = await kv.list(keys.tasksPrefix);
    const statuses = await kv.list(keys.taskStatusPrefix);
    if (this.stopped) return;
    const own = new Map<string, Task>();
    for (const e of listed.entries) {
      const t = parse<Task>(e.value);
      if (t && t.NodeID === nodeId) own.set(idOfKey(e.key), t);
    }
    const before = new Map(this.tasks);
    this.tasks.clear();
    for (const [id, t] of own) this.tasks.set(id, t);
    for (const e of statuses.entries) {
      const id = idOfKey(e.key);
      if (!own.has(id)) continue;
      const cur = this.statuses.get(id);
      const s = parse<TaskStatus>(e.value);
      if (s && (!cur || cur.modRevision <= e.modRevision)) this.statuses.set(id, { status: s, modRevision: e.modRevision });
    }
    // Tasks gone while the watch was down, containers of tasks this node no longer has.
    for (const id of before.keys()) if (!own.has(id)) this.kick(id);
    for (const c of this.o.host.taskContainers()) if (!own.has(c.taskId)) this.kick(c.taskId);
    for (const [id, t] of own) if (full || JSON.stringify(before.get(id)) !== JSON.stringify(t)) this.kick(id);
    this.watch = await kv.watch(keys.tasksPrefix, listed.revision + 1, {
      onEvents: (events) => this.onEvents(events),
      onError: (err) => {
        this.log?.warn({ err: errorMessage(err) }, 'swarm agent: task watch ended; listing again');
        this.scheduleSync(this.backoff(this.syncFailures++));
      },
    });
    if (this.stopped) await this.watch.cancel().catch(() => undefined);
  }

  private onEvents(events: KvEvent[]): void {
    for (const ev of events) {
      const id = idOfKey(ev.key);
      if (ev.type === 'delete') {
        if (this.tasks.delete(id) || this.workers.has(id) || this.hasContainer(id)) this.kick(id);
        continue;
      }
      const t = parse<Task>(ev.value);
      if (t && t.NodeID === this.o.nodeId) {
        this.tasks.set(id, t);
        this.kick(id);
      } else if (this.tasks.delete(id) || this.hasContainer(id)) {
        // Placed elsewhere: this node's container of it goes.
        this.kick(id);
      }
    }
  }

  private hasContainer(taskId: string): boolean {
    return this.o.host.taskContainers().some((c) => c.taskId === taskId);
  }

  // ------------------------------------------------------------------ per-task workers

  private kick(id: string): void {
    if (this.stopped) return;
    let w = this.workers.get(id);
    if (!w) {
      w = { running: false, dirty: false };
      this.workers.set(id, w);
    }
    if (w.running) {
      w.dirty = true;
      w.abort?.abort();
      return;
    }
    w.running = true;
    const worker = w;
    worker.done = this.runTask(id, worker)
      .catch((err: unknown) => this.log?.warn({ err: errorMessage(err), task: id }, 'swarm agent: task worker failed'))
      .finally(() => {
        worker.running = false;
        worker.done = undefined;
        if (worker.dirty && !this.stopped) {
          worker.dirty = false;
          this.kick(id);
        } else if (!this.tasks.has(id)) {
          this.workers.delete(id);
        }
      });
  }

  private async runTask(id: string, w: Worker): Promise<void> {
    let attempts = 0;
    const max = this.o.maxAttempts ?? 6;
    while (!this.stopped) {
      w.dirty = false;
      const task = this.tasks.get(id);
      if (!task) {
        await this.removeTask(id);
        return;
      }
      const status = this.statuses.get(id)?.status ?? task.Status;
      const abort = new AbortController();
      w.abort = abort;
      const ctlr = new AgentTaskController(this, task, abort.signal);
      const step = await stepTask({ Status: status, DesiredState: desiredForStep(task.DesiredState) }, ctlr, () => this.now());
      w.abort = undefined;
      this.grace.set(id, ctlr.stopGraceSeconds);
      if (this.stopped) return;
      // A wait abandoned because the task changed: its outcome says nothing; step again.
      if (abort.signal.aborted) continue;
      if (step.outcome === 'noop') {
        if (w.dirty) continue;
        return;
      }
      if (step.outcome === 'transition') {
        let written = false;
        try {
          written = await this.writeStatus(id, step.status);
        } catch (err) {
          this.log?.warn({ err: errorMessage(err), task: id }, 'swarm agent: cannot write the task status');
        }
        if (written) {
          attempts = 0;
          continue;
        }
      }
      // A retry, or a write that did not happen: back off, a bounded number of times.
      if (++attempts >= max) {
        // The store may be out of reach: list again later (it retries until it can), which
        // steps every task again, this one included.
        this.log?.warn({ task: id }, 'swarm agent: giving up on the task until it changes or the tasks are listed again');
        this.scheduleSync(this.o.retryMaxMs ?? 10_000);
        return;
      }
      await this.sleep(this.backoff(attempts - 1), w);
    }
  }

  private sleep(ms: number, w: Worker): Promise<void> {
    return new Promise((resolve) => {
      const abort = new AbortController();
      w.abort = abort;
      const t = setTimeout(() => {
        w.abort = undefined;
        resolve();
      }, ms);
      abort.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** The status into P/task-status/<id> if the task still exists; false if it did not go in. */
  private async writeStatus(id: string, status: TaskStatus): Promise<boolean> {
    const { kv, keys } = this.o;
    const known = this.statuses.get(id)?.modRevision ?? 0;
    const r = await kv.txn(
      [
        { key: keys.task(id), target: 'create', op: '>', revision: 0 },
        { key: keys.taskStatus(id), target: 'mod', op: '==', revision: known },
      ],
      [{ op: 'put', key: keys.taskStatus(id), value: JSON.stringify(status) }],
    );
    if (r.succeeded) {
      this.statuses.set(id, { status, modRevision: r.revision });
      return true;
    }
    // Another revision of the status, or the task is gone: read both again.
    const [t, s] = await Promise.all([kv.get(keys.task(id)), kv.get(keys.taskStatus(id))]);
    if (!t) {
      this.tasks.delete(id);
    } else if (s) {
      const parsed = parse<TaskStatus>(s.value);
      if (parsed) this.statuses.set(id, { status: parsed, modRevision: s.modRevision });
    } else {
      this.statuses.delete(id);
    }
    return false;
  }

  /** The task is no longer this node's: stop and remove its containers, its files, its status. */
  private async removeTask(id: string): Promise<void> {
    for (const c of this.o.host.taskContainers().filter((x) => x.taskId === id)) {
      await this.removeContainer(c.id, this.grace.get(id));
    }
    await removeTaskFiles(this.o.filesRoot, id).catch((err: unknown) =>
      this.log?.warn({ err: errorMessage(err), task: id }, 'swarm agent: removing task files failed'),
    );
    this.statuses.delete(id);
    this.grace.delete(id);
    const { kv, keys } = this.o;
    // A task deleted: its status goes too (unless the orchestrator already took it).
    await kv
      .txn([{ key: keys.task(id), target: 'create', op: '==', revision: 0 }], [{ op: 'delete', key: keys.taskStatus(id) }])
      .catch((err: unknown) => this.log?.debug({ err: errorMessage(err), task: id }, 'swarm agent: status cleanup failed'));
  }

  private async removeContainer(id: string, graceSec: number | undefined): Promise<void> {
    const c = this.o.host.find(id);
    if (c?.running) await this.o.host.stop(id, graceSec).catch(() => undefined);
    await this.o.host.remove(id);
  }

  // ------------------------------------------------------------------ what a task needs

  /** @internal the controller's view of the loop. */
  get deps(): AgentLoopOptions {
    return this.o;
  }

  /** @internal */
  async service(task: Task): Promise<StoredService | undefined> {
    if (!task.ServiceID) return undefined;
    const e = await this.o.kv.get(this.o.keys.service(task.ServiceID));
    return e ? parse<StoredService>(e.value) : undefined;
  }

  /** @internal the sealed payloads of the task's secrets and configs, opened. */
  async payloads(task: Task): Promise<Map<string, Buffer>> {
    const spec = task.Spec?.ContainerSpec;
    const out = new Map<string, Buffer>();
    const refs: { kind: 'secret' | 'config'; id: string }[] = [
      ...(spec?.Secrets ?? []).map((r) => ({ kind: 'secret' as const, id: r.SecretID ?? '' })),
      ...(spec?.Configs ?? []).map((r) => ({ kind: 'config' as const, id: r.ConfigID ?? '' })),
    ];
    for (const r of refs) {
      if (r.id === '' || r.id.includes('/')) continue;
      const e = await this.o.kv.get(r.kind === 'secret' ? this.o.keys.secret(r.id) : this.o.keys.config(r.id));
      const stored = e ? parse<StoredPayload>(e.value) : undefined;
      if (!stored?.Sealed) continue;
      out.set(`${r.kind}/${r.id}`, openData(this.o.clusterKey, r.id, stored.Sealed));
    }
    return out;
  }

  /** @internal the swarm network a task names (by ID, else by name). */
  async network(target: string): Promise<SwarmNetworkRecord | undefined> {
    if (target !== '' && !target.includes('/')) {
      const e = await this.o.kv.get(this.o.keys.network(target));
      const byId = e ? parse<SwarmNetworkRecord>(e.value) : undefined;
      if (byId) return byId;
    }
    const all = await this.o.kv.list(this.o.keys.networksPrefix);
    return all.entries.map((x) => parse<SwarmNetworkRecord>(x.value)).find((n) => n?.Name === target);
  }
}

/** A store read: unreachable is a temporary error (the step is retried), never a rejection. */
async function temporary<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ClusterStoreUnavailable) throw new TemporaryTaskError(err.message);
    throw err;
  }
}

/** One step's controller: the light plan (name, grace) for most steps, the full one to prepare. */
class AgentTaskController implements TaskController {
  private runner: TaskRunner | undefined;
  stopGraceSeconds: number | undefined;

  constructor(
    private readonly loop: AgentLoop,
    private readonly task: Task,
    private readonly signal: AbortSignal,
  ) {}

  private existing(): { id: string; name: string; serviceName: string } | undefined {
    return this.loop.deps.host.taskContainers().find((c) => c.taskId === this.task.ID);
  }

  private async input(): Promise<TaskRunInput> {
    const d = this.loop.deps;
    const service = await temporary(this.loop.service(this.task));
    const found = this.existing();
    const serviceName = service?.Spec?.Name ?? found?.serviceName;
    if (serviceName === undefined) throw new Error(`service ${this.task.ServiceID ?? ''} not found`);
    return {
      task: this.task,
      serviceName,
      serviceLabels: service?.Spec?.Labels,
      endpointSpec: service?.Spec?.EndpointSpec ?? service?.Endpoint?.Spec,
      node: { id: d.nodeId, ...d.node },
    };
  }

  private async light(): Promise<TaskRunner> {
    if (this.runner) return this.runner;
    const plan = taskContainerPlan(await this.input());
    const found = this.existing();
    if (found) plan.name = found.name;
    this.stopGraceSeconds = plan.stopGraceSeconds;
    this.runner = new TaskRunner(this.loop.deps.host, plan, { log: (msg, err) => this.logRunner(msg, err) });
    return this.runner;
  }

  private logRunner(msg: string, err: unknown): void {
    this.loop.deps.logger?.warn({ err: errorMessage(err), task: this.task.ID }, `swarm agent: ${msg}`);
  }

  async prepare(): Promise<void> {
    const d = this.loop.deps;
    const input = await this.input();
    const taskId = this.task.ID ?? '';
    const payloads = await temporary(this.loop.payloads(this.task));
    const files = taskFileInputs(this.task.Spec?.ContainerSpec ?? {}, (kind, id) => payloads.get(`${kind}/${id}`));
    const networks: TaskNetwork[] = [];
    for (const n of this.task.Spec?.Networks ?? []) {
      const net = await temporary(this.loop.network(n.Target ?? ''));
      if (!net) throw new Error(`network ${n.Target ?? ''} not found`);
      const local = await d.host.ensureNetwork(net);
      networks.push({ target: local, aliases: [input.serviceName, ...(n.Aliases ?? [])], driverOpts: n.DriverOpts });
    }
    let mounts: TaskFileMount[] = [];
    if (files.length > 0) mounts = await writeTaskFiles(d.filesRoot, taskId, files);
    const plan = taskContainerPlan({ ...input, networks, files: mounts });
    this.stopGraceSeconds = plan.stopGraceSeconds;
    this.runner = new TaskRunner(d.host, plan, { log: (msg, err) => this.logRunner(msg, err) });
    await this.runner.prepare();
  }

  async start(): Promise<void> {
    await (await this.light()).start();
  }

  async wait(): Promise<void> {
    await (await this.light()).wait(this.signal);
  }

  async shutdown(): Promise<void> {
    if (!this.existing()) return;
    await (await this.light()).shutdown();
  }

  async containerStatus(): Promise<ContainerStatus | undefined> {
    const found = this.existing();
    if (!found) return undefined;
    const c = this.loop.deps.host.find(found.id);
    if (!c) return undefined;
    return { ContainerID: c.id, PID: c.running ? c.pid : 0, ExitCode: c.running ? 0 : c.exitCode };
  }
}
