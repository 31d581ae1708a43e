// GET /events end to end: the real docker CLI (`docker events`) and raw HTTP against a real
// berthd running real containers. Replays bounded by --since/--until, filters, --format, live
// streaming, `until` in the future, and the wire details (legacy fields, media types, errors).
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { buildBusyboxArchive } from '../fixtures/busybox-image';
import { DOCKER, destroyBerth, startBerth, type Berth, type RunResult } from './harness';

let b: Berth;
/** Unix seconds just before berthd started: no event can be older. */
let bootSeconds: number;
/** Child processes started here, ended by PID in after() if a test left one behind. */
const children = new Set<ChildProcessWithoutNullStreams>();

interface EventJson {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: number | string;
  status?: string;
  id?: string;
  from?: string;
}

before(async () => {
  bootSeconds = Math.floor(Date.now() / 1000) - 1;
  b = await startBerth();
  await ok(['load'], await buildBusyboxArchive({ tags: ['busybox:latest'] }));
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  if (b) await destroyBerth(b);
});

async function docker(args: string[], input?: Buffer | string): Promise<RunResult> {
  return b.docker(args, { input, timeoutMs: 60_000 });
}

async function ok(args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout;
}

/** Now as the CLI's Unix form, "seconds.fraction". */
function unixNow(offsetMs = 0): string {
  return ((Date.now() + offsetMs) / 1000).toFixed(3);
}

function parseLines(text: string): EventJson[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as EventJson);
}

/** `docker events --since --until` (until now) with `args`, as JSON objects. */
async function replay(since: string, args: string[] = []): Promise<EventJson[]> {
  const out = await ok(['events', '--since', since, '--until', unixNow(), '--format', '{{json .}}', ...args]);
  return parseLines(out);
}

function actionsOf(events: EventJson[], id: string): string[] {
  return events.filter((e) => e.Actor.ID === id).map((e) => e.Action);
}

/** True when `sub` appears in `list` in order (other items may come between). */
function inOrder(list: string[], sub: string[]): boolean {
  let i = 0;
  for (const x of list) if (i < sub.length && x === sub[i]) i++;
  return i === sub.length;
}

/** `docker run --rm` of busybox `true`; the container is gone after, so tests find it in events by name. */
async function runRm(name: string, extra: string[] = []): Promise<void> {
  await ok(['run', '--rm', '--network', 'none', '--name', name, ...extra, 'busybox', 'true']);
}

function idByName(events: EventJson[], name: string): string {
  const e = events.find((x) => x.Type === 'container' && x.Actor.Attributes.name === name);
  assert.ok(e, `no event for container ${name} in ${JSON.stringify(events.map((x) => [x.Type, x.Action, x.Actor.Attributes.name]))}`);
  return e.Actor.ID;
}

function cliEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: `unix://${b.socket}`, DOCKER_CONFIG: path.join(b.dir, 'docker-config'), DOCKER_CLI_HINTS: 'false' };
}

async function listeners(): Promise<number> {
  return Number((await ok(['info', '--format', '{{.NEventsListener}}'])).trim());
}

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('docker events --since --until replays create/start/die/destroy of a run --rm, then ends', async () => {
  const since = unixNow(-1);
  await runRm('ev-basic', ['--label', 'com.example.evt=basic']);
  const events = await replay(since);
  const id = idByName(events, 'ev-basic');
  assert.match(id, /^[0-9a-f]{64}$/);
  const actions = actionsOf(events, id);
  assert.ok(inOrder(actions, ['create', 'start', 'die', 'destroy']), actions.join(','));
  const die = events.find((e) => e.Actor.ID === id && e.Action === 'die');
  assert.ok(die);
  assert.equal(die.Type, 'container');
  assert.equal(die.scope, 'local');
  assert.equal(die.Actor.Attributes.exitCode, '0');
  assert.equal(die.Actor.Attributes.image, 'busybox');
  assert.equal(die.Actor.Attributes['com.example.evt'], 'basic');
  // time and timeNano agree and lie inside the window.
  assert.equal(BigInt(die.timeNano) / 1_000_000_000n, BigInt(die.time));
  assert.ok(die.time >= Math.floor(Number(since)) && die.time <= Date.now() / 1000 + 1);
  // Replayed in publishing order.
  const nanos = events.map((e) => BigInt(e.timeNano));
  for (let i = 1; i < nanos.length; i++) assert.ok(nanos[i] > nanos[i - 1]);

  // The plain (default) format names action, type and ID on each line.
  const plain = await ok(['events', '--since', since, '--until', unixNow(), '--filter', `container=${id}`]);
  const lines = plain.trim().split('\n');
  assert.ok(
    lines.some((l) => l.includes(`container destroy ${id}`) && l.includes('name=ev-basic')),
    plain,
  );

  // A window that ends before the daemon existed replays nothing.
  const before = await ok(['events', '--since', String(bootSeconds - 60), '--until', String(bootSeconds)]);
  assert.equal(before, '');
});

test('--filter event=die and --filter container=<name> select events', async () => {
  const since = unixNow(-1);
  await runRm('ev-one');
  await runRm('ev-two');
  const dies = await replay(since, ['--filter', 'event=die']);
  assert.ok(dies.length >= 2);
  assert.ok(
    dies.every((e) => e.Action === 'die'),
    JSON.stringify(dies.map((e) => e.Action)),
  );
  assert.deepEqual(
    dies.map((e) => e.Actor.Attributes.name).filter((n) => n === 'ev-one' || n === 'ev-two'),
    ['ev-one', 'ev-two'],
  );

  const one = await replay(since, ['--filter', 'container=ev-one']);
  assert.ok(one.length >= 4);
  assert.ok(
    one.every((e) => e.Actor.Attributes.name === 'ev-one'),
    JSON.stringify(one),
  );
  assert.ok(
    inOrder(
      one.map((e) => e.Action),
      ['create', 'start', 'die', 'destroy'],
    ),
  );

  // By ID prefix, combined with an event filter (AND across keys, OR within one).
  const id = idByName(one, 'ev-one');
  const startStop = await replay(since, [
    '--filter',
    `container=${id.slice(0, 12)}`,
    '--filter',
    'event=start',
    '--filter',
    'event=destroy',
  ]);
  assert.deepEqual(
    startStop.map((e) => e.Action),
    ['start', 'destroy'],
  );
  const none = await replay(since, ['--filter', 'container=ev-nosuch']);
  assert.deepEqual(none, []);
});

test('--filter type=image shows load, tag, untag and delete of an image, and no container events', async () => {
  const since = unixNow(-1);
  const archive = await buildBusyboxArchive({ tags: ['evtest/img:1'], extraFiles: { 'etc/evtest': 'events test image\n' } });
  await ok(['load'], archive);
  const id = (await ok(['image', 'inspect', '--format', '{{.ID}}', 'evtest/img:1'])).trim();
  await ok(['tag', 'evtest/img:1', 'evtest/img:2']);
  await runRm('ev-img');
  await ok(['rmi', 'evtest/img:2']);
  await ok(['rmi', 'evtest/img:1']);
  const events = await replay(since, ['--filter', 'type=image']);
  assert.ok(
    events.every((e) => e.Type === 'image'),
    JSON.stringify(events.map((e) => e.Type)),
  );
  const mine = events.filter((e) => e.Actor.ID === id);
  const actions = mine.map((e) => e.Action);
  assert.ok(inOrder(actions, ['load', 'tag', 'untag', 'untag', 'delete']), actions.join(','));
  assert.equal(actions[actions.length - 1], 'delete');
  assert.ok(
    mine.some((e) => e.Action === 'tag' && e.Actor.Attributes.name === 'evtest/img:2'),
    JSON.stringify(mine),
  );

  // image=<name> passes the image's own events and those of containers made from it.
  const busybox = await replay(since, ['--filter', 'image=busybox']);
  assert.ok(busybox.some((e) => e.Type === 'container' && e.Actor.Attributes.name === 'ev-img'));
  assert.ok(busybox.every((e) => e.Actor.ID !== id));
  const byId = await replay(since, ['--filter', `image=${id}`]);
  assert.deepEqual(
    byId.map((e) => e.Action),
    actions,
  );
});

test("--format '{{json .}}' prints the message fields; label filters match attributes", async () => {
  const since = unixNow(-1);
  await runRm('ev-fmt', ['--label', 'com.example.evt=fmt', '--label', 'com.example.other=1']);
  await runRm('ev-fmt-other', ['--label', 'com.example.evt=nope']);
  const out = await ok([
    'events',
    '--since',
    since,
    '--until',
    unixNow(),
    '--format',
    '{{json .}}',
    '--filter',
    'label=com.example.evt=fmt',
  ]);
  const lines = out.trim().split('\n');
  assert.ok(lines.length >= 4, out);
  for (const line of lines) {
    const e = JSON.parse(line) as EventJson;
    assert.equal(e.Type, 'container');
    assert.equal(e.scope, 'local');
    assert.equal(e.Actor.Attributes.name, 'ev-fmt');
    assert.equal(e.Actor.Attributes['com.example.other'], '1');
    assert.match(e.Actor.ID, /^[0-9a-f]{64}$/);
    assert.equal(typeof e.time, 'number');
  }
  const tmpl = await ok([
    'events',
    '--since',
    since,
    '--until',
    unixNow(),
    '--format',
    '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
    '--filter',
    'label=com.example.evt',
  ]);
  const names = new Set(
    tmpl
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[2]),
  );
  assert.deepEqual([...names].sort(), ['ev-fmt', 'ev-fmt-other']);
  assert.match(tmpl, /^container create ev-fmt$/m);
});

test('a streaming docker events sees a run live; killing it drops the listener', async () => {
  assert.equal(await listeners(), 0);
  const child = spawn(DOCKER, ['events', '--filter', 'container=ev-live', '--format', '{{.Action}}'], { env: cliEnv() });
  children.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor('the events listener', async () => (await listeners()) === 1);
    await runRm('ev-live');
    await waitFor('destroy on the live stream', () => out.includes('destroy'));
    assert.ok(inOrder(out.trim().split('\n'), ['create', 'start', 'die', 'destroy']), out);
    assert.equal(child.exitCode, null, 'docker events must keep streaming');
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
    children.delete(child);
  }
  await waitFor('the listener to go away', async () => (await listeners()) === 0);
});

test('--until in the future: live events until then, and the stream ends by itself', async () => {
  const since = unixNow(-1);
  const untilMs = Date.now() + 4_000;
  const started = Date.now();
  const events = docker(['events', '--since', since, '--until', (untilMs / 1000).toFixed(3), '--format', '{{json .}}']);
  await runRm('ev-until');
  const r = await events;
  const took = Date.now() - started;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() >= untilMs - 50, `ended ${untilMs - Date.now()} ms early`);
  assert.ok(took < 15_000, `took ${took} ms`);
  const parsed = parseLines(r.stdout);
  const id = idByName(parsed, 'ev-until');
  const actions = actionsOf(parsed, id);
  assert.deepEqual(
    actions.filter((a) => ['create', 'start', 'die', 'destroy'].includes(a)),
    ['create', 'start', 'die', 'destroy'],
  );
  // Each event once: the replay and the live part do not overlap.
  assert.equal(new Set(parsed.map((e) => String(e.timeNano))).size, parsed.length);
});

/** GET /events raw; resolves with status, headers and the whole body (until must be past). */
function rawEvents(
  query: string,
  headers: Record<string, string> = {},
  prefix = '',
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return b.request('GET', `${prefix}/events?${query}`, { headers });
}

test('wire form: jsonl without legacy fields on 1.53, json with status/id/from before 1.52, json-seq on request', async () => {
  const since = unixNow(-1);
  await runRm('ev-wire');
  const q = `since=${since}&until=${unixNow()}&filters=${encodeURIComponent(JSON.stringify({ container: ['ev-wire'] }))}`;

  const current = await rawEvents(q);
  assert.equal(current.status, 200);
  assert.equal(current.headers['content-type'], 'application/jsonl');
  const cur = parseLines(current.body);
  assert.ok(cur.length >= 4);
  for (const e of cur) {
    assert.deepEqual(Object.keys(e), ['Type', 'Action', 'Actor', 'scope', 'time', 'timeNano']);
  }
  // timeNano is exact: its text has full nanosecond digits, consistent with time.
  const nanoText = /"timeNano":(\d+)\}/.exec(current.body.split('\n')[0])?.[1] ?? '';
  assert.equal(nanoText.length, 19);
  assert.equal(nanoText.slice(0, 10), String(cur[0].time));

  const legacy = await rawEvents(q, {}, '/v1.41');
  assert.equal(legacy.headers['content-type'], 'application/json');
  for (const e of parseLines(legacy.body)) {
    assert.equal(e.status, e.Action);
    assert.equal(e.id, e.Actor.ID);
    assert.equal(e.from, 'busybox');
    assert.deepEqual(Object.keys(e).slice(0, 3), ['status', 'id', 'from']);
  }

  const seq = await rawEvents(q, { Accept: 'application/json-seq' });
  assert.equal(seq.headers['content-type'], 'application/json-seq');
  const records = seq.body.split('\x1e');
  assert.equal(records[0], '');
  assert.equal(records.length - 1, cur.length);
  for (const r of records.slice(1)) assert.ok(r.endsWith('}\n') && JSON.parse(r));
});

test('bad parameters are 400 with dockerd texts; headers go out before any event', async () => {
  const bad = async (query: string, message: string): Promise<void> => {
    const r = await rawEvents(query);
    assert.equal(r.status, 400, `${query}: ${r.body}`);
    assert.deepEqual(JSON.parse(r.body), { message });
  };
  await bad('since=10&until=5', '`since` time (10) cannot be after `until` time (5)');
  await bad('since=abc', `invalid value for 'since': invalid timestamp "abc": invalid seconds "abc": invalid syntax`);
  await bad(`filters=${encodeURIComponent('{"nosuch":["x"]}')}`, "invalid filter 'nosuch'");
  await bad('filters=%7Bbroken', 'invalid filter');

  // A subscriber with no replay gets the status line and headers at once.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no response headers within 5 s')), 5_000);
    const req = http.get({ socketPath: b.socket, path: '/events' }, (res) => {
      clearTimeout(timer);
      try {
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], 'application/jsonl');
        resolve();
      } catch (err) {
        reject(err as Error);
      } finally {
        req.destroy();
      }
    });
    req.on('error', () => undefined);
  });
  await waitFor('the raw listener to go away', async () => (await listeners()) === 0);
});
