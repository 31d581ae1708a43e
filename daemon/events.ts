// The one event bus: every service publishes here what dockerd would emit; the events API
// (and anything else that wants to know) subscribes. A bounded backlog serves `since` replays,
// as dockerd keeps its last 256 events.

import { preciseNow } from '../lib/time';

export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'builder';

export interface BerthEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  /** Unix seconds. */
  time: number;
  /** Unix nanoseconds: a bigint, since a Number cannot hold them exactly. */
  timeNano: bigint;
}

export type EventListener = (ev: BerthEvent) => void;

const BACKLOG = 256;

export class EventBus {
  private readonly backlog: BerthEvent[] = [];
  private readonly listeners = new Set<EventListener>();
  private readonly internal = new Set<EventListener>();
  private lastNs = 0n;

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  /** Wall-clock nanoseconds, strictly increasing so that replays keep the publishing order. */
  private now(): bigint {
    const t = preciseNow();
    let ns = BigInt(t.sec) * 1_000_000_000n + BigInt(t.nsec);
    // Even across a step back of the wall clock, which preciseNow follows.
    if (ns <= this.lastNs) ns = this.lastNs + 1n;
    this.lastNs = ns;
    return ns;
  }

  publish(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): BerthEvent {
    const nowNs = this.now();
    const ev: BerthEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: nowNs,
    };
    this.backlog.push(ev);
    if (this.backlog.length > BACKLOG) this.backlog.shift();
    for (const l of this.listeners) {
      // A failing subscriber must not break the transition that published the event.
      try {
        l(ev);
      } catch (err) {
        this.onListenerError(err);
      }
    }
    return ev;
  }

  /** Events still in the backlog, oldest first. */
  recent(): readonly BerthEvent[] {
    return this.backlog;
  }

  /**
   * Calls `listener` for every event published from now on; returns the unsubscribe function.
   * recent() then subscribe() in the same tick miss nothing and repeat nothing.
   */
  subscribe(listener: EventListener, opts: { internal?: boolean } = {}): () => void {
    // A wrapper per call, so the same function subscribed twice counts (and unsubscribes) twice.
    const entry: EventListener = (ev) => listener(ev);
    this.listeners.add(entry);
    if (opts.internal) this.internal.add(entry);
    return () => {
      this.listeners.delete(entry);
      this.internal.delete(entry);
    };
  }

  /** Subscribers outside the daemon (docker info's NEventsListener); the daemon's own don't count. */
  listenerCount(): number {
    return this.listeners.size - this.internal.size;
  }
}
