// The one gRPC connection to containerd. Every generated service client shares a single channel
// (so a containerd restart is one reconnect, not eleven), the namespace rides on every call via
// an interceptor, and unary calls are exposed as typed promise functions per service.

import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { ContainersClient } from './gen/github.com/containerd/containerd/api/services/containers/v1/containers';
import { ContentClient } from './gen/github.com/containerd/containerd/api/services/content/v1/content';
import { DiffClient } from './gen/github.com/containerd/containerd/api/services/diff/v1/diff';
import { EventsClient } from './gen/github.com/containerd/containerd/api/services/events/v1/events';
import { ImagesClient } from './gen/github.com/containerd/containerd/api/services/images/v1/images';
import { IntrospectionClient } from './gen/github.com/containerd/containerd/api/services/introspection/v1/introspection';
import { LeasesClient } from './gen/github.com/containerd/containerd/api/services/leases/v1/leases';
import { NamespacesClient } from './gen/github.com/containerd/containerd/api/services/namespaces/v1/namespace';
import { SnapshotsClient } from './gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots';
import { TasksClient } from './gen/github.com/containerd/containerd/api/services/tasks/v1/tasks';
import { VersionClient } from './gen/github.com/containerd/containerd/api/services/version/v1/version';
import { Unavailable } from '../lib/errors';
import { fromGrpcError, isGrpcCode } from './grpc-errors';

/** containerd's own server limit; larger messages would be refused anyway. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Default bound for unary calls, including the time spent waiting for a restarting containerd. */
const DEFAULT_UNARY_TIMEOUT_MS = 60_000;
/** setTimeout's ceiling (~24.8 days); effectively "never go idle" without overflowing. */
const NEVER_IDLE_MS = 2 ** 31 - 1;

export interface CallOpts {
  /** Lease id sent as `containerd-lease`, so what the call creates is protected from GC. */
  lease?: string;
  /** Deadline from now; also bounds waiting for the connection. Infinity for long-lived calls (Tasks.Wait). */
  timeoutMs?: number;
  /** Cancels the call; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

type UnaryCallback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
/** The last (fullest) overload of every generated unary method; inference picks exactly this one. */
type UnaryFn<Req, Res> = (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: UnaryCallback<Res>) => grpc.ClientUnaryCall;
type ServerStreamFn<Req, Res> = (req: Req, md?: grpc.Metadata, opts?: Partial<grpc.CallOptions>) => grpc.ClientReadableStream<Res>;

/** Arity of a method's last overload: 4 for unary calls; streaming calls take at most 3 arguments. */
type Arity<F> = F extends (...args: infer A) => unknown ? A['length'] : never;

export type UnaryMethod<C> = {
  // Streams are structurally close enough to ClientUnaryCall to pass the first test; arity tells them apart.
  [K in keyof C]: C[K] extends UnaryFn<infer _Req, infer _Res> ? (Arity<C[K]> extends 4 ? K : never) : never;
}[keyof C];
export type ServerStreamMethod<C> = {
  // Bidi streams take (metadata, options?) and return a duplex; only server streams end in a readable-only call.
  [K in keyof C]: C[K] extends ServerStreamFn<infer _Req, infer _Res>
    ? ReturnOf<C[K]> extends grpc.ClientWritableStream<never>
      ? never
      : K
    : never;
}[keyof C];
type ReturnOf<F> = F extends (...args: never[]) => infer R ? R : never;
export type UnaryRequest<F> = F extends UnaryFn<infer Req, infer _Res> ? Req : never;
export type UnaryResponse<F> = F extends UnaryFn<infer _Req, infer Res> ? Res : never;
export type StreamRequest<F> = F extends ServerStreamFn<infer Req, infer _Res> ? Req : never;
export type StreamResponse<F> = F extends ServerStreamFn<infer _Req, infer Res> ? Res : never;

/** A generated client's unary methods as `(request, opts?) => Promise<response>`. */
export type Promisified<C> = {
  [K in UnaryMethod<C>]: (req: UnaryRequest<C[K]>, opts?: CallOpts) => Promise<UnaryResponse<C[K]>>;
};

interface ServiceDefinitionShape {
  [method: string]: { requestStream: boolean; responseStream: boolean };
}
interface GeneratedClientCtor<C> {
  new (address: string, creds: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>): C;
  service: ServiceDefinitionShape;
}

export interface ContainerdOptions {
  /** Path of containerd's gRPC unix socket. */
  address: string;
  /** containerd namespace; unique per berthd so several daemons can share a host's runc state dir. */
  namespace: string;
  logger: Logger;
  /** Told of every finished unary call: service (e.g. "containerd.services.tasks.v1.Tasks"), method, gRPC status name, seconds. */
  observeCall?: (service: string, method: string, code: string, seconds: number) => void;
}

/** A unary call's "/pkg.Service/Method" path as service and method. */
function splitPath(p: string): [string, string] {
  const i = p.lastIndexOf('/');
  return [p.slice(1, i), p.slice(i + 1)];
}

export class Containerd {
  readonly address: string;
  readonly namespace: string;
  readonly logger: Logger;
  /** Raw generated clients, for streaming calls (Content.Write/Read, Events.Subscribe, lists). */
  readonly clients: {
    containers: ContainersClient;
    content: ContentClient;
    diff: DiffClient;
    events: EventsClient;
    images: ImagesClient;
    introspection: IntrospectionClient;
    leases: LeasesClient;
    namespaces: NamespacesClient;
    snapshots: SnapshotsClient;
    tasks: TasksClient;
    version: VersionClient;
  };
  readonly containers: Promisified<ContainersClient>;
  readonly content: Promisified<ContentClient>;
  readonly diff: Promisified<DiffClient>;
  readonly images: Promisified<ImagesClient>;
  readonly introspection: Promisified<IntrospectionClient>;
  readonly leases: Promisified<LeasesClient>;
  readonly namespaces: Promisified<NamespacesClient>;
  readonly snapshots: Promisified<SnapshotsClient>;
  readonly tasks: Promisified<TasksClient>;
  readonly versionService: Promisified<VersionClient>;

  private readonly channel: grpc.Channel;
  private readonly connectivity = new EventEmitter();
  private everReady = false;
  private dropped = false;
  private closed = false;

  constructor(opts: ContainerdOptions) {
    this.address = opts.address;
    this.namespace = opts.namespace;
    this.logger = opts.logger;
    const creds = grpc.credentials.createInsecure();
    this.channel = new grpc.Channel(`unix://${opts.address}`, creds, {
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      // A local socket is cheap to retry; grpc-js's default 120 s backoff ceiling would leave us
      // disconnected long after a restarted containerd is back.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      // Idle-driven disconnects would look like containerd restarts to onReconnect listeners.
      'grpc.client_idle_timeout_ms': NEVER_IDLE_MS,
      // Our own pool: another Containerd in this process (the supervisor's probe) must not share
      // or close our subchannel.
      'grpc.use_local_subchannel_pool': 1,
    });
    const namespace = opts.namespace;
    const nsInterceptor: grpc.Interceptor = (options, nextCall) =>
      new grpc.InterceptingCall(nextCall(options), {
        start(metadata, listener, next) {
          metadata.set('containerd-namespace', namespace);
          next(metadata, listener);
        },
      });
    const observe = opts.observeCall;
    const timing: grpc.Interceptor = (options, nextCall) => {
      const def = options.method_definition;
      if (!observe || def.requestStream || def.responseStream) return new grpc.InterceptingCall(nextCall(options));
      const started = process.hrtime.bigint();
      return new grpc.InterceptingCall(nextCall(options), {
        start(metadata, listener, next) {
          next(metadata, {
            onReceiveStatus(status, nextStatus) {
              const [service, method] = splitPath(def.path);
              observe(service, method, grpc.status[status.code] ?? String(status.code), Number(process.hrtime.bigint() - started) / 1e9);
              nextStatus(status);
            },
          });
        },
      });
    };
    const make = <C>(Ctor: GeneratedClientCtor<C>): C =>
      new Ctor(opts.address, creds, { channelOverride: this.channel, interceptors: [nsInterceptor, timing] });
    this.clients = {
      containers: make(ContainersClient),
      content: make(ContentClient),
      diff: make(DiffClient),
      events: make(EventsClient),
      images: make(ImagesClient),
      introspection: make(IntrospectionClient),
      leases: make(LeasesClient),
      namespaces: make(NamespacesClient),
      snapshots: make(SnapshotsClient),
      tasks: make(TasksClient),
      version: make(VersionClient),
    };
    const c = this.clients;
    this.containers = this.promisify(c.containers, ContainersClient.service);
    this.content = this.promisify(c.content, ContentClient.service);
    this.diff = this.promisify(c.diff, DiffClient.service);
    this.images = this.promisify(c.images, ImagesClient.service);
    this.introspection = this.promisify(c.introspection, IntrospectionClient.service);
    this.leases = this.promisify(c.leases, LeasesClient.service);
    this.namespaces = this.promisify(c.namespaces, NamespacesClient.service);
    this.snapshots = this.promisify(c.snapshots, SnapshotsClient.service);
    this.tasks = this.promisify(c.tasks, TasksClient.service);
    this.versionService = this.promisify(c.version, VersionClient.service);
    this.watchConnectivity();
  }

  /** Metadata for a call: lease header if any, and waitForReady so a restarting containerd is awaited. */
  metadata(opts: Pick<CallOpts, 'lease'> = {}): grpc.Metadata {
    const md = new grpc.Metadata({ waitForReady: true });
    if (opts.lease) md.set('containerd-lease', opts.lease);
    return md;
  }

  /** Call options with a deadline; Infinity (the default for streams) means none. */
  callOptions(timeoutMs: number = Infinity): Partial<grpc.CallOptions> {
    return Number.isFinite(timeoutMs) ? { deadline: Date.now() + timeoutMs } : {};
  }

  /** One typed unary call; rejects with a BerthError carrying the gRPC code (see grpc-errors). */
  call<C extends grpc.Client, K extends UnaryMethod<C>>(
    client: C,
    method: K,
    req: UnaryRequest<C[K]>,
    opts: CallOpts = {},
  ): Promise<UnaryResponse<C[K]>> {
    const fn = client[method] as unknown as UnaryFn<UnaryRequest<C[K]>, UnaryResponse<C[K]>>;
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => call.cancel();
      const call = fn.call(client, req, this.metadata(opts), this.callOptions(opts.timeoutMs ?? DEFAULT_UNARY_TIMEOUT_MS), (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) reject(signal.reason);
        else if (err) reject(fromGrpcError(err));
        else resolve(res);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Starts a typed server-streaming call (namespace, lease, waitForReady applied). Stream errors
   * are raw ServiceErrors; pass them through fromGrpcError.
   */
  serverStream<C extends grpc.Client, K extends ServerStreamMethod<C>>(
    client: C,
    method: K,
    req: StreamRequest<C[K]>,
    opts: Omit<CallOpts, 'signal'> = {},
  ): grpc.ClientReadableStream<StreamResponse<C[K]>> {
    const fn = client[method] as unknown as ServerStreamFn<StreamRequest<C[K]>, StreamResponse<C[K]>>;
    return fn.call(client, req, this.metadata(opts), this.callOptions(opts.timeoutMs));
  }

  async version(opts: Pick<CallOpts, 'timeoutMs'> = {}): Promise<{ version: string; revision: string }> {
    const res = await this.versionService.version({}, opts);
    return { version: res.version ?? '', revision: res.revision ?? '' };
  }

  /** Resolves once containerd answers Version; rejects with Unavailable after timeoutMs. */
  async waitReady(timeoutMs: number): Promise<void> {
    try {
      await this.version({ timeoutMs });
    } catch (err) {
      if (isGrpcCode(err, grpc.status.DEADLINE_EXCEEDED) || isGrpcCode(err, grpc.status.UNAVAILABLE)) {
        throw new Unavailable(`containerd at ${this.address} did not answer within ${timeoutMs} ms`);
      }
      throw err;
    }
  }

  /**
   * Called each time the connection comes back after it was lost (containerd restarted).
   * Streams such as the events subscription must be re-established then. Returns an unsubscriber.
   */
  onReconnect(cb: () => void): () => void {
    this.connectivity.on('reconnect', cb);
    return () => this.connectivity.off('reconnect', cb);
  }

  /** Called when an established connection is lost. Returns an unsubscriber. */
  onDisconnect(cb: () => void): () => void {
    this.connectivity.on('disconnect', cb);
    return () => this.connectivity.off('disconnect', cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.channel.close();
  }

  /** A throwing listener must not break the connectivity watch loop inside grpc-js's callback. */
  private emit(event: 'reconnect' | 'disconnect'): void {
    for (const listener of this.connectivity.listeners(event)) {
      try {
        (listener as () => void)();
      } catch (err) {
        this.logger.error({ err, event }, 'containerd connectivity listener failed');
      }
    }
  }

  private promisify<C extends grpc.Client>(client: C, service: ServiceDefinitionShape): Promisified<C> {
    const out: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(service)) {
      if (def.requestStream || def.responseStream) continue;
      const method = name as UnaryMethod<C>;
      out[name] = (req: UnaryRequest<C[typeof method]>, opts?: CallOpts) => this.call(client, method, req, opts);
    }
    // The keys are exactly the service's unary methods, which is what Promisified<C> describes.
    return out as Promisified<C>;
  }

  /**
   * Follows the channel's connectivity state. grpc-js leaves a dropped channel IDLE until the next
   * call, so after a drop we ask it to connect, and report the transition back to READY.
   */
  private watchConnectivity(): void {
    const state = this.channel.getConnectivityState(false);
    if (this.closed || state === grpc.connectivityState.SHUTDOWN) return;
    this.channel.watchConnectivityState(state, Infinity, () => {
      if (this.closed) return;
      const next = this.channel.getConnectivityState(false);
      if (next === grpc.connectivityState.READY) {
        if (this.dropped) {
          this.dropped = false;
          this.logger.info({ address: this.address }, 'reconnected to containerd');
          this.emit('reconnect');
        }
        this.everReady = true;
      } else if (next !== grpc.connectivityState.SHUTDOWN && this.everReady && !this.dropped) {
        this.dropped = true;
        this.logger.warn({ address: this.address }, 'lost connection to containerd');
        this.emit('disconnect');
      }
      if (this.dropped && next === grpc.connectivityState.IDLE) this.channel.getConnectivityState(true);
      this.watchConnectivity();
    });
  }
}
