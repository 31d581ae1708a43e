// containerd's task events (exit, OOM, pause, ...) for one namespace, decoded, over a subscription
// that comes back by itself after containerd restarts.
//
// Events.Subscribe ignores the namespace header and delivers every namespace's events, so the
// namespace is part of the filter. A subscription is live only once containerd has registered it,
// which the stream itself never tells: we publish a marker event to ourselves until it comes
// back. That gives callers a `ready` point (subscribe, await ready, then list tasks: no gap) and a
// callback after each re-subscription (events in the gap are lost, so reconcile then).

import { randomBytes } from 'node:crypto';
import type { ClientReadableStream } from '@grpc/grpc-js';
import type { Containerd } from './containerd';
import {
  TaskCreate,
  TaskDelete,
  TaskExecAdded,
  TaskExecStarted,
  TaskExit,
  TaskOOM,
  TaskPaused,
  TaskResumed,
  TaskStart,
} from './gen/github.com/containerd/containerd/api/events/task';
import type { Envelope } from './gen/github.com/containerd/containerd/api/services/events/v1/events';
import { errorMessage } from '../lib/errors';

interface EventBase {
  containerId: string;
  /** When containerd published the event. */
  timestamp: Date;
}

export type TaskEvent =
  | (EventBase & { kind: 'create'; pid: number })
  | (EventBase & { kind: 'start'; pid: number })
  /** execId is absent for the task's init process. */
  | (EventBase & { kind: 'exit'; execId?: string; pid: number; exitStatus: number; exitedAt: Date })
  | (EventBase & { kind: 'delete'; execId?: string; pid: number; exitStatus: number; exitedAt?: Date })
  | (EventBase & { kind: 'oom' })
  | (EventBase & { kind: 'paused' | 'resumed' })
  | (EventBase & { kind: 'exec-added'; execId: string })
  | (EventBase & { kind: 'exec-started'; execId: string; pid: number });

export interface TaskEventSubscription {
  /** Resolves once containerd delivers events to this subscription (the first time). */
  readonly ready: Promise<void>;
  close(): void;
}

export interface SubscribeOptions {
  /**
   * Called each time a lost subscription is live again. Events published in between are lost:
   * compare containerd's task list with what you know.
   */
  onResubscribed?: () => void;
}

const SYNC_TOPIC = '/berth/events-ready';
const SYNC_TYPE = 'berth.events.SubscriptionReady';
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;
/** The marker is re-published until it comes back, at growing intervals. */
const SYNC_INTERVAL_MS = 50;
const SYNC_INTERVAL_MAX_MS = 1_000;

/** The message name of an Any type URL ("containerd.events.TaskExit", with or without a host prefix). */
function typeName(typeUrl: string | undefined): string {
  const url = typeUrl ?? '';
  return url.slice(url.lastIndexOf('/') + 1);
}

/** A process id of "" or the container's own id means the init process. */
function execIdOf(containerId: string, id: string | undefined): string | undefined {
  return id && id !== containerId ? id : undefined;
}

/** Decodes one envelope into a TaskEvent; undefined for events of other kinds. */
export function decodeTaskEvent(env: Envelope): TaskEvent | undefined {
  const value = env.event?.value;
  if (!value) return undefined;
  const timestamp = env.timestamp ?? new Date();
  switch (typeName(env.event?.typeUrl)) {
    case 'containerd.events.TaskCreate': {
      const e = TaskCreate.decode(value);
      return { kind: 'create', containerId: e.containerId ?? '', pid: e.pid ?? 0, timestamp };
    }
    case 'containerd.events.TaskStart': {
      const e = TaskStart.decode(value);
      return { kind: 'start', containerId: e.containerId ?? '', pid: e.pid ?? 0, timestamp };
    }
    case 'containerd.events.TaskExit': {
      const e = TaskExit.decode(value);
      const containerId = e.containerId ?? '';
      const execId = execIdOf(containerId, e.id);
      return {
        kind: 'exit',
        containerId,
        ...(execId !== undefined ? { execId } : {}),
        pid: e.pid ?? 0,
        exitStatus: e.exitStatus ?? 0,
        exitedAt: e.exitedAt ?? timestamp,
        timestamp,
      };
    }
    case 'containerd.events.TaskDelete': {
      const e = TaskDelete.decode(value);
      const containerId = e.containerId ?? '';
      const execId = execIdOf(containerId, e.id);
      return {
        kind: 'delete',
        containerId,
        ...(execId !== undefined ? { execId } : {}),
        pid: e.pid ?? 0,
        exitStatus: e.exitStatus ?? 0,
        ...(e.exitedAt ? { exitedAt: e.exitedAt } : {}),
        timestamp,
      };
    }
    case 'containerd.events.TaskOOM':
      return { kind: 'oom', containerId: TaskOOM.decode(value).containerId ?? '', timestamp };
    case 'containerd.events.TaskPaused':
      return { kind: 'paused', containerId: TaskPaused.decode(value).containerId ?? '', timestamp };
    case 'containerd.events.TaskResumed':
      return { kind: 'resumed', containerId: TaskResumed.decode(value).containerId ?? '', timestamp };
    case 'containerd.events.TaskExecAdded': {
      const e = TaskExecAdded.decode(value);
      return { kind: 'exec-added', containerId: e.containerId ?? '', execId: e.execId ?? '', timestamp };
    }
    case 'containerd.events.TaskExecStarted': {
      const e = TaskExecStarted.decode(value);
      return {
        kind: 'exec-started',
        containerId: e.containerId ?? '',
        execId: e.execId ?? '',
        pid: e.pid ?? 0,
        timestamp,
      };
    }
    default:
      return undefined;
  }
}

/** Filters for Events.Subscribe: a comma ANDs within one filter, separate filters are ORed. */
export function taskEventFilters(namespace: string, syncNamespace: string): string[] {
  return [`namespace==${namespace},topic~="^/tasks/"`, `namespace==${syncNamespace},topic=="${SYNC_TOPIC}"`];
}

/**
 * Subscribes to the task events of `namespace` (normally ctd.namespace). `handler` runs for each
 * event in order; a throwing handler is logged and does not end the subscription.
 */
export function subscribeTaskEvents(
  ctd: Containerd,
  namespace: string,
  handler: (ev: TaskEvent) => void,
  opts: SubscribeOptions = {},
): TaskEventSubscription {
  const log = ctd.logger;
  let stream: ClientReadableStream<Envelope> | undefined;
  let closed = false;
  let everLive = false;
  let retryMs = RETRY_MIN_MS;
  let retryTimer: NodeJS.Timeout | undefined;
  let syncTimer: NodeJS.Timeout | undefined;
  let resolveReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));

  const stopSync = (): void => {
    if (syncTimer) clearTimeout(syncTimer);
    syncTimer = undefined;
  };

  const onLive = (): void => {
    stopSync();
    retryMs = RETRY_MIN_MS;
    if (!everLive) {
      everLive = true;
      resolveReady();
      return;
    }
    log.info({ namespace }, 'containerd event subscription restored');
    try {
      opts.onResubscribed?.();
    } catch (err) {
      log.error({ err }, 'onResubscribed callback failed');
    }
  };

  /** Publishes the marker until it arrives; the subscription may register after the first one. */
  const sync = (current: ClientReadableStream<Envelope>, token: Buffer): void => {
    let interval = SYNC_INTERVAL_MS;
    const publish = (): void => {
      if (closed || stream !== current) return;
      ctd
        .call(
          ctd.clients.events,
          'publish',
          { topic: SYNC_TOPIC, event: { typeUrl: SYNC_TYPE, value: token } },
          {
            timeoutMs: 10_000,
          },
        )
        .catch((err: unknown) => log.debug({ err }, 'could not publish event subscription marker'))
        .finally(() => {
          if (closed || stream !== current || syncTimer === undefined) return;
          syncTimer = setTimeout(publish, interval);
          interval = Math.min(interval * 2, SYNC_INTERVAL_MAX_MS);
        });
    };
    syncTimer = setTimeout(publish, 0);
  };

  const scheduleRetry = (): void => {
    if (closed || retryTimer) return;
    const delay = retryMs;
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      connect();
    }, delay);
  };

  const connect = (): void => {
    if (closed) return;
    stopSync();
    const token = randomBytes(16);
    const current = ctd.serverStream(ctd.clients.events, 'subscribe', {
      filters: taskEventFilters(namespace, ctd.namespace),
    });
    stream = current;
    let live = false;
    current.on('data', (env: Envelope) => {
      if (stream !== current) return;
      if (env.topic === SYNC_TOPIC) {
        if (!live && env.event?.value && Buffer.compare(env.event.value, token) === 0) {
          live = true;
          onLive();
        }
        return;
      }
      let ev: TaskEvent | undefined;
      try {
        ev = decodeTaskEvent(env);
      } catch (err) {
        log.warn({ err, topic: env.topic }, 'undecodable containerd event');
        return;
      }
      if (!ev) return;
      try {
        handler(ev);
      } catch (err) {
        log.error({ err, event: ev.kind, container: ev.containerId }, 'task event handler failed');
      }
    });
    const lost = (err?: unknown): void => {
      if (stream !== current) return;
      stream = undefined;
      stopSync();
      if (closed) return;
      log.warn({ err: err ? errorMessage(err) : 'stream ended', namespace }, 'containerd event subscription lost');
      scheduleRetry();
    };
    current.on('error', (err: unknown) => lost(err));
    current.on('end', () => lost());
    sync(current, token);
  };

  // After a containerd restart the stream has failed; don't sit out the backoff once it is back.
  const offReconnect = ctd.onReconnect(() => {
    if (closed || stream) return;
    if (retryTimer) clearTimeout(retryTimer);
    retryTimer = undefined;
    retryMs = RETRY_MIN_MS;
    connect();
  });

  connect();

  return {
    ready,
    close(): void {
      if (closed) return;
      closed = true;
      offReconnect();
      stopSync();
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      const s = stream;
      stream = undefined;
      s?.cancel();
    },
  };
}
