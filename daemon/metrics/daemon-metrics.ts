// The daemon's Prometheus metrics (`--metrics-addr`): one registry per daemon (never prom-client's
// global one, so several daemons in one test process stay apart). Where dockerd has a metric for
// the same thing its name is kept (engine_daemon_*); the rest are berth_*, plus the standard
// process_* and nodejs_* series (RSS, handles, event-loop lag). Per-container series are filled
// at each scrape from the shared stats collector (container-metrics.ts).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** go-metrics' default buckets, which dockerd's timers use. */
const ACTION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const API_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const RPC_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface RequestObservation {
  /** The route's pattern (bounded), or '' when no route matched. */
  route: string;
  method: string;
  status: number;
  seconds: number;
}

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly apiRequests: Histogram<'method' | 'route' | 'status'>;
  private readonly containerdCalls: Histogram<'service' | 'method' | 'code'>;
  private readonly actions: Histogram<'action'>;
  private readonly events: Counter<'type' | 'action'>;
  private readonly pulls: Counter;
  private readonly pullBytes: Counter;
  /** Runs before every scrape (per-container series); the in-flight one is shared by concurrent scrapes. */
  private readonly refreshers: Array<() => Promise<void>> = [];
  private refreshing: Promise<void> | undefined;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.apiRequests = new Histogram({
      name: 'berth_api_request_duration_seconds',
      help: 'Engine API requests by route pattern, method and status, until the reply (or the hijack) was sent',
      labelNames: ['method', 'route', 'status'],
      buckets: API_BUCKETS,
      registers,
    });
    this.containerdCalls = new Histogram({
      name: 'berth_containerd_call_duration_seconds',
      help: 'Unary gRPC calls to containerd by service, method and gRPC status code',
      labelNames: ['service', 'method', 'code'],
      buckets: RPC_BUCKETS,
      registers,
    });
    this.actions = new Histogram({
      name: 'engine_daemon_container_actions_seconds',
      help: 'The number of seconds it takes to process each container action',
      labelNames: ['action'],
      buckets: ACTION_BUCKETS,
      registers,
    });
    this.events = new Counter({
      name: 'engine_daemon_events_total',
      help: 'The number of events logged, by type and action',
      labelNames: ['type', 'action'],
      registers,
    });
    this.pulls = new Counter({ name: 'berth_image_pulls_total', help: 'Images pulled (completed pulls)', registers });
    this.pullBytes = new Counter({
      name: 'berth_image_pull_bytes_total',
      help: 'Bytes of image blobs downloaded from registries',
      registers,
    });
  }

  observeRequest(o: RequestObservation): void {
    this.apiRequests.observe({ method: o.method, route: o.route || 'unmatched', status: String(o.status) }, o.seconds);
  }

  observeContainerdCall(service: string, method: string, code: string, seconds: number): void {
    this.containerdCalls.observe({ service, method, code }, seconds);
  }

  observeAction(action: string, seconds: number): void {
    this.actions.observe({ action }, seconds);
  }

  countEvent(type: string, action: string): void {
    // health_status and exec events carry their argument after ': ' (e.g. "exec_start: sh -c …");
    // only the verb is a label, so the series stay bounded.
    this.events.inc({ type, action: action.split(':', 1)[0] ?? action });
  }

  countPull(): void {
    this.pulls.inc();
  }

  countPullBytes(n: number): void {
    if (n > 0) this.pullBytes.inc(n);
  }

  /** A gauge whose value is read at each scrape. */
  gauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    read: (set: (labels: Record<L, string>, v: number) => void) => void,
  ): void {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        read((labels, v) => this.set(labels as Partial<Record<L, string | number>>, v));
      },
    });
  }

  /** `refresh` runs before each scrape renders (once for concurrent scrapes). */
  beforeScrape(refresh: () => Promise<void>): void {
    this.refreshers.push(refresh);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of everything. */
  async render(): Promise<string> {
    this.refreshing ??= Promise.all(this.refreshers.map((r) => r())).then(
      () => undefined,
      () => undefined,
    );
    try {
      await this.refreshing;
    } finally {
      this.refreshing = undefined;
    }
    return this.registry.metrics();
  }
}

/**
 * `target` with the methods named in `actions` timed into `observe`: a method's time is until its
 * promise settles (or it returns), failures included, as dockerd's timers defer their update.
 */
export function timedMethods<T extends object>(
  target: T,
  actions: Partial<Record<keyof T, string>>,
  observe: (action: string, seconds: number) => void,
): T {
  return new Proxy(target, {
    get(obj, prop, receiver) {
      const value: unknown = Reflect.get(obj, prop, receiver);
      const action = actions[prop as keyof T];
      if (action === undefined || typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const started = process.hrtime.bigint();
        const done = (): void => observe(action, Number(process.hrtime.bigint() - started) / 1e9);
        let result: unknown;
        try {
          result = (value as (...a: unknown[]) => unknown).apply(obj, args);
        } catch (err) {
          done();
          throw err;
        }
        if (result instanceof Promise) return result.finally(done);
        done();
        return result;
      };
    },
  });
}
