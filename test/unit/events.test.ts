// The event bus, event filtering and replay (daemon/events*.ts), and the wire form of GET /events
// (api/routes/events.ts). Expected outputs are what dockerd answers for the same input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Filters } from '../../api/filters';
import { encodeEvent, eventsMediaType, eventTime } from '../../api/routes/events';
import { InvalidParameter } from '../../lib/errors';
import { EventBus, type BerthEvent, type EventType } from '../../daemon/events';
import { EVENT_FILTER_KEYS, eventFilter, replayEvents } from '../../daemon/events-filter';

const CID = 'b572d0f90b7aa2f177fdc4bfca4e92ec84221125537c0ac461080a86c4f4ee57';
const IID = 'sha256:a6a6dd7c3494c86a02fb07e47ed73b09d02d1ce85cca132128a92ebeff907564';

function ev(type: EventType, action: string, id: string, attrs: Record<string, string>, timeNano = 1795876749775415675n): BerthEvent {
  return {
    Type: type,
    Action: action,
    Actor: { ID: id, Attributes: attrs },
    scope: 'local',
    time: Number(timeNano / 1_000_000_000n),
    timeNano,
  };
}

const containerStart = ev('container', 'start', CID, { image: 'busybox', name: 'web-1', 'com.example.tier': 'front' });
const imageTag = ev('image', 'tag', IID, { name: 'busybox:latest' });
const imageUntag = ev('image', 'untag', IID, { name: IID });
const execStart = ev('container', 'exec_start: sh -c true', CID, { image: 'busybox', name: 'web-1', execID: 'e1' });
const networkConnect = ev('network', 'connect', 'n'.repeat(64), { container: CID, name: 'none', type: 'null' });

function matches(filters: string, e: BerthEvent): boolean {
  return eventFilter(Filters.fromJSON(filters))(e);
}

test('the bus keeps 256 events, times strictly increasing, and isolates failing listeners', () => {
  const errors: unknown[] = [];
  const bus = new EventBus((err) => errors.push(err));
  const seen: string[] = [];
  const off = bus.subscribe((e) => seen.push(e.Action));
  bus.subscribe(() => {
    throw new Error('boom');
  });
  assert.equal(bus.listenerCount(), 2);
  for (let i = 0; i < 300; i++) bus.publish('container', `a${i}`, 'x');
  assert.equal(seen.length, 300);
  assert.equal(errors.length, 300);
  const recent = bus.recent();
  assert.equal(recent.length, 256);
  assert.equal(recent[0].Action, 'a44');
  for (let i = 1; i < recent.length; i++) assert.ok(recent[i].timeNano > recent[i - 1].timeNano);
  const last = recent[recent.length - 1];
  assert.equal(last.time, Number(last.timeNano / 1_000_000_000n));
  assert.ok(Math.abs(Number(last.timeNano / 1_000_000n) - Date.now()) < 5_000);
  off();
  assert.equal(bus.listenerCount(), 1);
});

test('no filters pass everything; type, event and scope match exactly', () => {
  assert.equal(matches('', networkConnect), true);
  assert.equal(matches('{"type":["container"]}', containerStart), true);
  assert.equal(matches('{"type":["container"]}', imageTag), false);
  assert.equal(matches('{"type":["image","container"]}', imageTag), true);
  assert.equal(matches('{"event":["start"]}', containerStart), true);
  assert.equal(matches('{"event":["sta"]}', containerStart), false);
  assert.equal(matches('{"scope":["local"]}', containerStart), true);
  assert.equal(matches('{"scope":["swarm"]}', containerStart), false);
});

test('exec_start, exec_create and health_status match actions by prefix', () => {
  assert.equal(matches('{"event":["exec_start"]}', execStart), true);
  // Once fuzzy, every value of the event filter is a prefix.
  assert.equal(matches('{"event":["exec_start","sta"]}', containerStart), true);
  assert.equal(matches('{"event":["exec_create"]}', execStart), false);
});

test('container filter: ID or name, by prefix; like moby it does not look at the event type', () => {
  assert.equal(matches('{"container":["web-1"]}', containerStart), true);
  assert.equal(matches('{"container":["web"]}', containerStart), true);
  assert.equal(matches(`{"container":["${CID.slice(0, 12)}"]}`, containerStart), true);
  assert.equal(matches('{"container":["db"]}', containerStart), false);
  assert.equal(matches('{"container":["web-1"]}', imageTag), false);
  assert.equal(matches('{"container":["busybox"]}', imageTag), true);
});

test('image filter: ID, the image attribute of containers or name of images, and their untagged familiar form', () => {
  for (const value of ['busybox', 'busybox:latest', IID]) {
    assert.equal(matches(`{"image":["${value}"]}`, imageTag), true, value);
  }
  // Only the familiar forms: moby compares the attribute as published and its familiar name.
  assert.equal(matches('{"image":["docker.io/library/busybox"]}', imageTag), false);
  assert.equal(matches('{"image":["busybox:1"]}', imageTag), false);
  assert.equal(matches('{"image":["busybox"]}', containerStart), true);
  assert.equal(matches('{"image":["alpine"]}', containerStart), false);
  assert.equal(matches(`{"image":["${IID}"]}`, imageUntag), true);
  assert.equal(matches('{"image":["busybox"]}', imageUntag), false);
  assert.equal(matches('{"image":["busybox"]}', networkConnect), false);
});

test('label filter matches attributes by key or key=value; every value must match', () => {
  assert.equal(matches('{"label":["com.example.tier"]}', containerStart), true);
  assert.equal(matches('{"label":["com.example.tier=front"]}', containerStart), true);
  assert.equal(matches('{"label":["com.example.tier=back"]}', containerStart), false);
  assert.equal(matches('{"label":["com.example.tier","other"]}', containerStart), false);
  assert.equal(matches('{"label":["name=web-1"]}', containerStart), true);
});

test('filters combine with AND across keys', () => {
  assert.equal(matches('{"type":["container"],"event":["start"],"container":["web-1"]}', containerStart), true);
  assert.equal(matches('{"type":["container"],"event":["die"],"container":["web-1"]}', containerStart), false);
});

test('the accepted filter keys are the spec list', () => {
  const f = Filters.fromJSON('{"type":["image"],"until":["1"]}');
  assert.throws(() => f.validate(EVENT_FILTER_KEYS), /invalid filter 'until'/);
  Filters.fromJSON('{"config":[],"daemon":[],"node":[],"plugin":[],"secret":[],"service":[],"volume":[],"network":[]}').validate(
    EVENT_FILTER_KEYS,
  );
});

test('replay: nothing without since/until, else the window, inclusive, oldest first', () => {
  const backlog = [1n, 2n, 3n, 4n].map((t) => ev('container', `a${t}`, 'x', {}, t * 1_000_000_000n));
  const all = () => true;
  const actions = (w: { since?: bigint; until?: bigint }): string[] => replayEvents(backlog, w, all).map((e) => e.Action);
  assert.deepEqual(actions({}), []);
  assert.deepEqual(actions({ since: 2_000_000_000n }), ['a2', 'a3', 'a4']);
  assert.deepEqual(actions({ until: 3_000_000_000n }), ['a1', 'a2', 'a3']);
  assert.deepEqual(actions({ since: 2_000_000_001n, until: 3_000_000_000n }), ['a3']);
  // until=0 is no upper bound in dockerd's replay.
  assert.deepEqual(actions({ until: 0n }), ['a1', 'a2', 'a3', 'a4']);
  assert.deepEqual(
    replayEvents(backlog, { since: 0n }, (e) => e.Action !== 'a2').map((e) => e.Action),
    ['a1', 'a3', 'a4'],
  );
});

test('wire form: current API has no legacy fields, attributes sorted, exact timeNano', () => {
  const e = ev('container', 'die', CID, { name: 'web-1', image: 'busybox', exitCode: '0' }, 1795876750077555157n);
  assert.equal(
    encodeEvent(e, '1.53'),
    `{"Type":"container","Action":"die","Actor":{"ID":"${CID}","Attributes":{"exitCode":"0","image":"busybox","name":"web-1"}},"scope":"local","time":1795876750,"timeNano":1795876750077555157}`,
  );
});

test('wire form before API 1.52: status, id and from as dockerd 20.10 writes them', () => {
  const e = ev('container', 'create', CID, { image: 'busybox', name: 'evt1', foo: 'bar' }, 1795876583208322051n);
  // Byte for byte what dockerd 20.10 sent for the same event.
  assert.equal(
    encodeEvent(e, '1.41'),
    `{"status":"create","id":"${CID}","from":"busybox","Type":"container","Action":"create","Actor":{"ID":"${CID}","Attributes":{"foo":"bar","image":"busybox","name":"evt1"}},"scope":"local","time":1795876583,"timeNano":1795876583208322051}`,
  );
  const img = JSON.parse(encodeEvent(imageTag, '1.51')) as Record<string, unknown>;
  assert.equal(img.status, 'tag');
  assert.equal(img.id, IID);
  assert.equal('from' in img, false);
  const net = JSON.parse(encodeEvent(networkConnect, '1.41')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(net), ['Type', 'Action', 'Actor', 'scope', 'time', 'timeNano']);
});

test('wire form escapes < > & as Go does', () => {
  const e = ev('container', 'create', CID, { note: '<a&b>' });
  assert.match(encodeEvent(e, '1.53'), /"note":"\\u003ca\\u0026b\\u003e"/);
  assert.equal((JSON.parse(encodeEvent(e, '1.53')) as { Actor: { Attributes: { note: string } } }).Actor.Attributes.note, '<a&b>');
});

test('media type: jsonl (json before 1.52), or the Accept choice among jsonl, x-ndjson, json-seq', () => {
  assert.equal(eventsMediaType('1.53', undefined), 'application/jsonl');
  assert.equal(eventsMediaType('1.51', undefined), 'application/json');
  assert.equal(eventsMediaType('1.41', 'application/json-seq'), 'application/json-seq');
  assert.equal(eventsMediaType('1.53', 'application/x-ndjson;q=0.5, application/json-seq;q=0.9'), 'application/json-seq');
  assert.equal(eventsMediaType('1.53', 'application/x-ndjson, application/jsonl'), 'application/jsonl');
  assert.equal(eventsMediaType('1.53', 'application/json-seq;q=0'), 'application/jsonl');
  assert.equal(eventsMediaType('1.53', '*/*'), 'application/jsonl');
});

test('since/until: Unix seconds as dockerd, plus RFC 3339 and durations; bad values are 400', () => {
  const now = new Date('2026-01-02T03:04:05Z');
  assert.equal(eventTime({}, 'since'), undefined);
  assert.equal(eventTime({ since: '' }, 'since'), undefined);
  assert.equal(eventTime({ since: '1700000000.5' }, 'since')?.unixNanos, 1_700_000_000_500_000_000n);
  assert.equal(eventTime({ until: '-5' }, 'until')?.unixNanos, -5_000_000_000n);
  assert.equal(
    eventTime({ since: '2026-01-02T03:00:00Z' }, 'since', now)?.unixNanos,
    BigInt(Date.parse('2026-01-02T03:00:00Z')) * 1_000_000n,
  );
  assert.equal(eventTime({ since: '10m' }, 'since', now)?.unixNanos, BigInt(now.getTime() - 600_000) * 1_000_000n);
  assert.throws(
    () => eventTime({ since: 'abc' }, 'since'),
    (e: unknown) =>
      e instanceof InvalidParameter &&
      e.message === `invalid value for 'since': invalid timestamp "abc": invalid seconds "abc": invalid syntax`,
  );
});
