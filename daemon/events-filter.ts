// Which events a subscriber gets: the `filters` of GET /events matched as moby's events.Filter
// does, and the backlog replay bounded by `since` and `until`.

import type { BerthEvent } from './events';
import { familiarName, parseNormalizedNamed } from './images/reference';

/** The filter keys GET /events accepts. */
export const EVENT_FILTER_KEYS: readonly string[] = [
  'config',
  'container',
  'daemon',
  'event',
  'image',
  'label',
  'network',
  'node',
  'plugin',
  'scope',
  'secret',
  'service',
  'type',
  'volume',
];

/**
 * The filter-set operations event matching needs, with the semantics of moby's filters.Args
 * (api/filters.ts's Filters provides them): a key given no values matches everything.
 */
export interface EventFilterArgs {
  readonly size: number;
  has(key: string): boolean;
  get(key: string): string[];
  exactMatch(key: string, source: string): boolean;
  fuzzyMatch(key: string, source: string): boolean;
  matchKVList(key: string, labels: Readonly<Record<string, string>> | undefined): boolean;
}

export type EventPredicate = (ev: BerthEvent) => boolean;

/** Object kinds whose filter matches the actor's ID or `name` attribute by prefix. */
const NAMED_KINDS = ['daemon', 'container', 'plugin', 'volume', 'network', 'node', 'service', 'secret', 'config'] as const;

/** Actions that carry a suffix (`exec_start: sh -c ...`, `health_status: healthy`). */
const SUFFIXED_ACTIONS = new Set(['health_status', 'exec_create', 'exec_start']);

/** moby's stripTag: the familiar name without tag or digest, or the input when it is no reference. */
function stripTag(image: string): string {
  try {
    return familiarName(parseNormalizedNamed(image));
  } catch {
    return image;
  }
}

function matchImage(f: EventFilterArgs, ev: BerthEvent): boolean {
  // Image events name the image in `name`, container events in `image`: a container made from
  // an image passes that image's filter.
  const name = ev.Actor.Attributes[ev.Type === 'image' ? 'name' : 'image'] ?? '';
  const id = ev.Actor.ID;
  return (
    f.exactMatch('image', id) || f.exactMatch('image', name) || f.exactMatch('image', stripTag(id)) || f.exactMatch('image', stripTag(name))
  );
}

/** The predicate for a parsed `filters` parameter (keys already validated by the caller). */
export function eventFilter(f: EventFilterArgs): EventPredicate {
  if (f.size === 0) return () => true;
  const fuzzyAction = f.get('event').some((v) => SUFFIXED_ACTIONS.has(v));
  return (ev) => {
    if (!(fuzzyAction ? f.fuzzyMatch('event', ev.Action) : f.exactMatch('event', ev.Action))) return false;
    if (!f.exactMatch('type', ev.Type)) return false;
    if (!f.exactMatch('scope', ev.scope)) return false;
    // As in moby, these do not look at the event's type: `container=x` also passes any other
    // event whose actor ID or name starts with x.
    const name = ev.Actor.Attributes.name ?? '';
    for (const kind of NAMED_KINDS) {
      if (!f.fuzzyMatch(kind, ev.Actor.ID) && !f.fuzzyMatch(kind, name)) return false;
    }
    if (!matchImage(f, ev)) return false;
    return !f.has('label') || f.matchKVList('label', ev.Actor.Attributes);
  };
}

export interface ReplayWindow {
  /** Unix nanoseconds; events before it are not replayed. */
  since?: bigint;
  /** Unix nanoseconds; events after it are not replayed (0 or less: no bound, as in moby). */
  until?: bigint;
}

/**
 * The backlog events a new subscriber gets first: none unless `since` or `until` is given
 * (dockerd replays only then), else those inside the window that pass `include`, oldest first.
 */
export function replayEvents(backlog: readonly BerthEvent[], window: ReplayWindow, include: EventPredicate): BerthEvent[] {
  if (window.since === undefined && window.until === undefined) return [];
  const since = window.since ?? 0n;
  const until = window.until ?? 0n;
  return backlog.filter((ev) => ev.timeNano >= since && (until <= 0n || ev.timeNano <= until) && include(ev));
}
