// The one event bus: every service publishes here what dockerd would emit; the events API
// (and anything else that wants to know) subscribes. A bounded backlog serves `since` replays,
// as dockerd keeps its last 256 events.

export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'builder';

export interface BerthEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export type EventListener = (ev: BerthEvent) => void;

const BACKLOG = 256;

export class EventBus {
  private readonly backlog: BerthEvent[] = [];
  private readonly listeners = new Set<EventListener>();

  publish(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): BerthEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const ev: BerthEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    this.backlog.push(ev);
    if (this.backlog.length > BACKLOG) this.backlog.shift();
    for (const l of this.listeners) l(ev);
    return ev;
  }

  /** Events still in the backlog, oldest first. */
  recent(): readonly BerthEvent[] {
    return this.backlog;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
