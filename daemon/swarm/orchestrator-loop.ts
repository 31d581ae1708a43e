// The orchestrator loop (docs/swarm.md, "Who does what"), run on the elected manager for one term:
// lists the cluster at a revision, watches it from the next one, keeps the snapshot in memory
// (nodes' Status.State from P/alive, as `node ls` shows them; tasks' status merged from
// P/task-status), and on every change (debounced) or at the time reconcile asked for, calls the
// pure reconcile and applies its changes in one transaction guarded by the leader key's create
// revision being this term. A failed transaction (a stale snapshot, or another leader) lists
// again, and so does every minute (a watch may stop delivering without an error); a lost term
// stops the loop.

import type { Logger } from 'pino';
import { errorMessage } from '../../lib/errors';
import type { ClusterKv, KvCompare, KvEntry, KvEvent, KvOp, KvWatch } from '../../store/cluster/kv';
import { idOfKey, type ClusterKeys } from './keys';
import { nodeView } from './nodes';
import { reconcile } from './orchestrator/reconcile';
import { newId } from './orchestrator/task';
import type { Change, IdGenerator, Memory, Node, Service, Snapshot, Task } from './orchestrator/types';
import { iso } from './orchestrator/types';
import {
  parseObject,
  parseTaskStatus,
  serviceView,
  storedService,
  storedTask,
  taskView,
  type StoredService,
  type StoredTask,
} from './records';
import type { ClusterRecord, NodeRecord } from './shapes';

/** Changes per transaction: two compares and two operations at most each, under etcd's 128. */
const MAX_CHANGES_PER_TXN = 50;

export interface OrchestratorLoopOptions {
  kv: ClusterKv;
  keys: ClusterKeys;
  /** The leader key's create revision this node was elected with. */
  term: number;
  logger?: Logger;
  /** Quiet time after a change before a pass (changes arrive in bursts). */
  debounceMs?: number;
  /** Wait before listing again after a store error. */
  retryMs?: number;
  /** How often the cluster is listed again while the watch is up (default 60 s). */
  resyncMs?: number;
  /** Called once when a transaction finds the leader key is no longer this term's. */
  onDeposed?: () => void;
  ids?: IdGenerator;
  now?: () => number;
}

const DEFAULT_DEBOUNCE_MS = 50;
const DEFAULT_RETRY_MS = 1000;
/** A watch that stops delivering without an error would leave changes unreconciled: listed again this often. */
const DEFAULT_RESYNC_MS = 60_000;

export class OrchestratorLoop {
  /** Every key the orchestrator reads, by key. */
  private entries = new Map<string, KvEntry>();
  private watch: KvWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private memory: Memory | undefined;
  private busy = false;
  private again = false;
  private stopped = false;
  /** Bumped on every listing, so events of an older watch are ignored. */
  private generation = 0;
  /** Highest revision the snapshot reflects (the listing's, then each event's). */
  private seen = 0;
  /** Revision of this loop's last committed transaction: no pass until the snapshot has caught up. */
  private committed = 0;
  private listed = false;
  /** A listing is owed: the timer lists instead of running a pass. */
  private relistDue = false;
  /** When the snapshot still lags this loop's last commit at this time, the cluster is listed again. */
  private catchUpBy = Infinity;
  /** Passes run and transactions committed (tests, debugging). */
  readonly stats = { passes: 0, commits: 0, conflicts: 0, relists: 0 };

  constructor(private readonly o: OrchestratorLoopOptions) {}

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  start(): void {
    this.relist();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    clearTimeout(this.resyncTimer);
    const w = this.watch;
    this.watch = undefined;
    await w?.cancel().catch(() => undefined);
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /**
   * The loop's one timer at `at` (ms since the epoch), unless it is due sooner. What it does is
   * decided when it fires (a listing if one is due, else a pass), so that a pass asked for sooner
   * never drops a listing asked for later.
   */
  private scheduleAt(at: number): void {
    if (this.stopped || at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        if (this.relistDue) this.relist();
        else this.runPass();
      },
      Math.max(0, at - this.now()),
    );
    this.timer.unref();
  }

  /** A listing after the retry delay (a store error, a snapshot that never caught up). */
  private relistLater(): void {
    this.relistDue = true;
    this.scheduleAt(this.now() + (this.o.retryMs ?? DEFAULT_RETRY_MS));
  }

  private relevant(key: string): boolean {
    const k = this.o.keys;
    return (
      key === k.cluster ||
      key.startsWith(k.servicesPrefix) ||
      key.startsWith(k.tasksPrefix) ||
      key.startsWith(k.taskStatusPrefix) ||
      key.startsWith(k.nodesPrefix) ||
      key.startsWith(k.alivePrefix)
    );
  }

  /** Lists the cluster at one revision and watches it from the next; retries on store errors. */
  private relist(): void {
    if (this.stopped) return;
    this.clearTimer();
    const gen = ++this.generation;
    this.listed = false;
    this.relistDue = false;
    this.stats.relists++;
    this.doRelist(gen).catch((err: unknown) => {
      if (this.stopped || gen !== this.generation) return;
      this.o.logger?.warn({ err: errorMessage(err) }, 'swarm orchestrator: cannot read the cluster store; retrying');
      this.relistLater();
    });
  }

  private async doRelist(gen: number): Promise<void> {
    const old = this.watch;
    this.watch = undefined;
    await old?.cancel().catch(() => undefined);
    const { entries, revision } = await this.o.kv.list(this.o.keys.prefix);
    if (this.stopped || gen !== this.generation) return;
    this.entries = new Map(entries.filter((e) => this.relevant(e.key)).map((e) => [e.key, e]));
    this.seen = revision;
    this.committed = 0;
    this.catchUpBy = Infinity;
    const w = await this.o.kv.watch(this.o.keys.prefix, revision + 1, {
      onEvents: (events) => {
        if (gen === this.generation) this.onEvents(events);
      },
      onError: (err) => {
        if (gen !== this.generation || this.stopped) return;
        this.o.logger?.warn({ err: errorMessage(err) }, 'swarm orchestrator: watch ended; listing again');
        this.relist();
      },
    });
    if (this.stopped || gen !== this.generation) {
      await w.cancel().catch(() => undefined);
      return;
    }
    this.watch = w;
    this.listed = true;
    clearTimeout(this.resyncTimer);
    this.resyncTimer = setTimeout(() => this.relist(), this.o.resyncMs ?? DEFAULT_RESYNC_MS);
    this.resyncTimer.unref();
    this.scheduleAt(this.now());
  }

  private onEvents(events: KvEvent[]): void {
    let changed = false;
    for (const ev of events) {
      this.seen = Math.max(this.seen, ev.modRevision);
      if (!this.relevant(ev.key)) continue;
      changed = true;
      if (ev.type === 'delete') this.entries.delete(ev.key);
      else
        this.entries.set(ev.key, {
          key: ev.key,
          value: ev.value,
          createRevision: ev.createRevision,
          modRevision: ev.modRevision,
          lease: '',
        });
    }
    if (changed || this.seen >= this.committed) this.scheduleAt(this.now() + (this.o.debounceMs ?? DEFAULT_DEBOUNCE_MS));
  }

  /** The snapshot reconcile reads, from the entries in memory. */
  snapshot(): Snapshot {
    const k = this.o.keys;
    const services: Service[] = [];
    const tasks: Task[] = [];
    const nodes: Node[] = [];
    const statuses = new Map<string, string>();
    const alive = new Set<string>();
    let retention: number | undefined;
    for (const e of this.entries.values()) {
      if (e.key.startsWith(k.taskStatusPrefix)) statuses.set(idOfKey(e.key), e.value);
      else if (e.key.startsWith(k.alivePrefix)) alive.add(idOfKey(e.key));
      else if (e.key === k.cluster) retention = parseObject<ClusterRecord>(e.value)?.Spec?.Orchestration?.TaskHistoryRetentionLimit;
    }
    for (const e of this.entries.values()) {
      if (e.key.startsWith(k.servicesPrefix)) {
        const s = storedService(e);
        if (s) services.push(serviceView(e, s));
      } else if (e.key.startsWith(k.tasksPrefix)) {
        const t = storedTask(e);
        if (t) tasks.push(taskView(e, t, parseTaskStatus(statuses.get(t.ID ?? ''))));
      } else if (e.key.startsWith(k.nodesPrefix)) {
        const rec = parseObject<NodeRecord>(e.value);
        if (rec && typeof rec.ID === 'string' && rec.Spec) nodes.push(nodeView(rec, e.modRevision, alive.has(rec.ID), ''));
      }
    }
    return {
      services,
      tasks,
      nodes,
      now: this.now(),
      ...(retention !== undefined ? { taskHistoryRetentionLimit: retention } : {}),
      ...(this.memory ? { memory: this.memory } : {}),
    };
  }

  private runPass(): void {
    if (this.stopped || !this.listed) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    // the snapshot has not seen this loop's own last commit yet: its events will call again (and
    // if they do not come within the retry delay, as when a commit changed no key, the cluster is
    // listed again)
    if (this.seen < this.committed) {
      if (this.catchUpBy === Infinity) this.catchUpBy = this.now() + (this.o.retryMs ?? DEFAULT_RETRY_MS);
      if (this.now() >= this.catchUpBy) this.relist();
      else this.scheduleAt(this.catchUpBy);
      return;
    }
    this.busy = true;
    this.pass()
      .catch((err: unknown) => {
        if (this.stopped) return;
        this.o.logger?.warn({ err: errorMessage(err) }, 'swarm orchestrator: pass failed; listing again');
        this.relistLater();
      })
      .finally(() => {
        this.busy = false;
        if (this.again && !this.stopped) {
          this.again = false;
          this.scheduleAt(this.now());
        }
      });
  }

  private async pass(): Promise<void> {
    this.stats.passes++;
    const gen = this.generation;
    const result = reconcile(this.snapshot(), this.o.ids ?? newId);
    if (result.changes.length > 0) {
      // etcd bounds a transaction's compares and operations (128 each by default) and a change
      // takes up to two of each: a large pass goes in slices, each one guarded transaction. The
      // commit's events bring the next pass, which reconciles from the state the slice left.
      const { compares, ops } = this.transaction(result.changes.slice(0, MAX_CHANGES_PER_TXN));
      const r = await this.o.kv.txn(compares, ops);
      if (this.stopped || gen !== this.generation) return;
      if (!r.succeeded) {
        this.stats.conflicts++;
        const leader = await this.o.kv.get(this.o.keys.leader);
        if (this.stopped) return;
        if (leader?.createRevision !== this.o.term) {
          this.o.logger?.info('swarm orchestrator: no longer the leader; stopping');
          await this.stop();
          this.o.onDeposed?.();
          return;
        }
        this.relist();
        return;
      }
      this.stats.commits++;
      this.committed = r.revision;
      this.catchUpBy = Infinity;
    }
    this.memory = result.memory;
    if (result.wakeAt !== undefined) this.scheduleAt(result.wakeAt);
  }

  /** The changes as one guarded transaction: every key compared with the revision it was read at. */
  transaction(changes: Change[]): { compares: KvCompare[]; ops: KvOp[] } {
    const k = this.o.keys;
    const now = iso(this.now());
    const compares: KvCompare[] = [{ key: k.leader, target: 'create', op: '==', revision: this.o.term }];
    const tasks = new Map<string, StoredTask | null>();
    const created = new Set<string>();
    const services = new Map<string, StoredService>();
    const task = (id: string): StoredTask | null => {
      if (tasks.has(id)) return tasks.get(id) ?? null;
      const e = this.entries.get(k.task(id));
      const t = e ? storedTask(e) : null;
      if (e) compares.push({ key: e.key, target: 'mod', op: '==', revision: e.modRevision });
      tasks.set(id, t);
      return t;
    };
    for (const c of changes) {
      switch (c.kind) {
        case 'createTask': {
          const { Version: _v, ...t } = c.task;
          const id = t.ID ?? '';
          tasks.set(id, t);
          created.add(id);
          break;
        }
        case 'setDesiredState': {
          const t = task(c.taskId);
          if (t) Object.assign(t, { DesiredState: c.desiredState, UpdatedAt: now });
          break;
        }
        case 'assignTask': {
          const t = task(c.taskId);
          if (t) Object.assign(t, { NodeID: c.nodeId, Status: c.status, UpdatedAt: now });
          break;
        }
        case 'setTaskStatus': {
          const t = task(c.taskId);
          if (t) Object.assign(t, { Status: c.status, UpdatedAt: now });
          break;
        }
        case 'deleteTask':
          task(c.taskId);
          tasks.set(c.taskId, null);
          break;
        case 'updateService': {
          let s = services.get(c.serviceId);
          if (!s) {
            const e = this.entries.get(k.service(c.serviceId));
            const stored = e ? storedService(e) : null;
            if (!e || !stored) break;
            compares.push({ key: e.key, target: 'mod', op: '==', revision: e.modRevision });
            s = stored;
            services.set(c.serviceId, s);
          }
          s.UpdateStatus = c.updateStatus;
          if (c.spec !== undefined) s.Spec = c.spec;
          if (c.previousSpec === null) delete s.PreviousSpec;
          else if (c.previousSpec !== undefined) s.PreviousSpec = c.previousSpec;
          break;
        }
      }
    }
    const ops: KvOp[] = [];
    for (const [id, t] of tasks) {
      if (t === null) {
        ops.push({ op: 'delete', key: k.task(id) }, { op: 'delete', key: k.taskStatus(id) });
        continue;
      }
      if (created.has(id)) compares.push({ key: k.task(id), target: 'create', op: '==', revision: 0 });
      ops.push({ op: 'put', key: k.task(id), value: JSON.stringify(t) });
    }
    for (const [id, s] of services) ops.push({ op: 'put', key: k.service(id), value: JSON.stringify(s) });
    return { compares, ops };
  }
}
