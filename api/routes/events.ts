// GET /events: the backlog inside [since, until] first, then live events, one JSON object per
// line, until `until` passes or the client goes away, as dockerd's getEvents streams them.
// Matching and replay live in daemon/events-filter.ts; this file parses the query and shapes
// each message for the client's API version.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidParameter } from '../../lib/errors';
import type { BerthEvent, EventListener } from '../../daemon/events';
import { EVENT_FILTER_KEYS, eventFilter, replayEvents } from '../../daemon/events-filter';
import { Filters } from '../filters';
import { startRawResponse } from '../hijack';
import { queryOf, queryString, type Query } from '../query';
import { parseTimestamp, parseUnixTimestamp, type Timestamp } from '../timestamp';
import { versionLessThan } from '../version';
import { shapes, versionAsks } from '../version-shapes';
import type { Operations } from './operations';

export interface EventsBackend {
  /** The backlog, oldest first. */
  recent(): readonly BerthEvent[];
  /** Live events from now on; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void;
}

export const MEDIA_TYPE_JSON_LINES = 'application/jsonl';
export const MEDIA_TYPE_NDJSON = 'application/x-ndjson';
export const MEDIA_TYPE_JSON_SEQUENCE = 'application/json-seq';

/** What a client may ask for with Accept, in dockerd's order of preference on equal weights. */
const STREAM_TYPES = [MEDIA_TYPE_JSON_LINES, MEDIA_TYPE_NDJSON, MEDIA_TYPE_JSON_SEQUENCE];

/** RFC 7464's record separator, before each record of a json-seq stream. */
const RECORD_SEPARATOR = '\x1e';

/**
 * A subscriber that does not read is cut off from further events once this much output is
 * waiting for it (dockerd likewise skips events a subscriber cannot take in time).
 */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** setTimeout's longest delay; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The stream's media type: application/jsonl (application/json before API 1.52), or the one of
 * jsonl, x-ndjson, json-seq the Accept header weighs highest (moby's MatchAcceptStrict: exact
 * types only, no wildcards, q=0 refuses).
 */
export function eventsMediaType(apiVersion: string, accept: string | undefined): string {
  let best = '';
  let bestQ = -1;
  const specs = (accept ?? '')
    .split(',')
    .map((part) => {
      const [type = '', ...params] = part.split(';').map((s) => s.trim());
      let q = 1;
      for (const p of params) {
        const m = /^q\s*=\s*([0-9.]+)$/i.exec(p);
        if (m) q = Number(m[1]);
      }
      return { type: type.toLowerCase(), q: Number.isNaN(q) ? 0 : q };
    })
    .filter((s) => s.type !== '');
  for (const offer of STREAM_TYPES) {
    for (const spec of specs) {
      if (spec.q === 0 || spec.type !== offer) continue;
      if (spec.q > bestQ) {
        bestQ = spec.q;
        best = offer;
      }
    }
  }
  if (best !== '') return best;
  // The body never was one JSON document, but older APIs labelled it so.
  return versionLessThan(apiVersion, '1.52') ? 'application/json' : MEDIA_TYPE_JSON_LINES;
}

/** Go's json.Encoder escapes these inside strings; they appear nowhere else in the output. */
function escapeLikeGo(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * One event as JSON text (no newline). Attributes come in key order, as Go marshals a map.
 * Clients before API 1.52 also get the deprecated `status`, `id` and `from` (container events)
 * fields (api/version-shapes.ts).
 */
export function encodeEvent(ev: BerthEvent, apiVersion: string): string {
  const out: Record<string, unknown> = {};
  const attrs = ev.Actor.Attributes;
  out.Type = ev.Type;
  out.Action = ev.Action;
  out.Actor = {
    ID: ev.Actor.ID,
    Attributes: Object.fromEntries(
      Object.keys(attrs)
        .sort()
        .map((k) => [k, attrs[k]]),
    ),
  };
  out.scope = ev.scope;
  out.time = ev.time;
  // timeNano is a bigint (JSON.stringify has no form for it): appended as integer text.
  const json = JSON.stringify(shapes.event(out, apiVersion));
  return escapeLikeGo(`${json.slice(0, -1)},"timeNano":${ev.timeNano.toString()}}`);
}

/**
 * `since` / `until`: Unix seconds with optional fraction as dockerd takes them (the CLI converts
 * everything else); Berth also accepts what the CLI accepts (RFC 3339 dates, durations before
 * now). Undefined when absent or empty.
 */
export function eventTime(query: Query, key: 'since' | 'until', now: Date = new Date()): Timestamp | undefined {
  const raw = queryString(query, key) ?? '';
  if (raw === '') return undefined;
  try {
    return parseUnixTimestamp(raw);
  } catch (unixErr) {
    try {
      return parseTimestamp(raw, now);
    } catch {
      throw new InvalidParameter(`invalid value for '${key}': ${(unixErr as Error).message}`);
    }
  }
}

/** Resolves after `ms` (any length), unless cancelled. */
function longTimer(ms: number, fire: () => void): () => void {
  let handle: NodeJS.Timeout;
  const deadline = Date.now() + ms;
  const arm = (): void => {
    const left = deadline - Date.now();
    if (left <= 0) return fire();
    handle = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
  };
  arm();
  return () => clearTimeout(handle);
}

async function streamEvents(backend: EventsBackend, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const q = queryOf(request);
  const now = new Date();
  const since = eventTime(q, 'since', now);
  const until = eventTime(q, 'until', now);
  let onlyPast = false;
  let untilMs: number | undefined;
  if (until !== undefined) {
    if (since !== undefined && until.unixNanos < since.unixNanos) {
      throw new InvalidParameter(
        `\`since\` time (${queryString(q, 'since') ?? ''}) cannot be after \`until\` time (${queryString(q, 'until') ?? ''})`,
      );
    }
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    onlyPast = until.unixNanos < nowNs;
    if (!onlyPast) untilMs = Number((until.unixNanos - nowNs) / 1_000_000n);
  }
  const filters = Filters.fromQuery(q);
  filters.validate(EVENT_FILTER_KEYS);
  const include = eventFilter(filters);

  const version = request.apiVersion;
  const mediaType = eventsMediaType(version, request.headers.accept);
  const prefix = mediaType === MEDIA_TYPE_JSON_SEQUENCE ? RECORD_SEPARATOR : '';
  const hidden = versionAsks.imageCreateEvents(version) ? () => false : (ev: BerthEvent) => ev.Type === 'image' && ev.Action === 'create';

  const res = startRawResponse(reply, mediaType);
  let dropped = 0;
  const write = (ev: BerthEvent): void => {
    if (hidden(ev) || res.destroyed || res.writableEnded) return;
    if (res.writableLength > MAX_PENDING_BYTES) {
      if (dropped++ === 0) request.log.warn('events subscriber is not reading: dropping events');
      return;
    }
    res.write(`${prefix}${encodeEvent(ev, version)}\n`);
  };
  // Replay and subscription in one synchronous stretch: no event falls between them, none
  // comes twice.
  for (const ev of replayEvents(backend.recent(), { since: since?.unixNanos, until: until?.unixNanos }, include)) write(ev);
  if (onlyPast) {
    res.end();
    return;
  }
  const unsubscribe = backend.subscribe((ev) => {
    if (include(ev)) write(ev);
  });

  await new Promise<void>((resolve) => {
    const cancelTimer = untilMs === undefined ? () => undefined : longTimer(untilMs, () => res.end());
    const finish = (): void => {
      cancelTimer();
      unsubscribe();
      if (dropped > 0) request.log.warn({ dropped }, 'events subscriber missed events');
      resolve();
    };
    res.once('close', finish);
    // A client already gone (its 'close' passed while the query was checked) would never leave.
    if (res.destroyed) {
      res.off('close', finish);
      finish();
    }
  });
}

export function eventsOperations(backend: EventsBackend): Operations {
  return {
    SystemEvents: (request, reply) => streamEvents(backend, request, reply),
  };
}
