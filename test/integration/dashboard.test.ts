// `--dashboard-addr` without a browser: who is let in. The page, its files, its event streams
// and its actions all want the per-start token berthd logs; a Host that does not name the
// loopback listener (DNS rebinding) is refused even with the token; an action is a POST with
// this listener's Origin (a forged cross-site form or fetch is refused); a non-loopback address
// is refused at config. The browser test (dashboard-browser.test.ts) drives the page itself.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { BERTHD, destroyBerth, loadBusybox, run, startBerth, type Berth } from './harness';
import { dashboardUrl, dashRequest, tokenOf } from './dashboard-kit';

let b: Berth;
let url: URL;
let cookie: string;

async function ok(args: string[]): Promise<string> {
  const r = await b.docker(args, { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

before(async () => {
  b = await startBerth({ args: ['--dashboard-addr', '127.0.0.1:0'] });
  await loadBusybox(b);
  url = await dashboardUrl(b);
  cookie = `berth_dashboard_${url.port}=${tokenOf(url)}`;
});

after(async () => {
  if (b) await destroyBerth(b);
});

test('the logged URL is on loopback with a long random token, and in a root-only file', () => {
  assert.equal(url.hostname, '127.0.0.1');
  assert.notEqual(url.port, '0');
  assert.match(tokenOf(url), /^[A-Za-z0-9_-]{43}$/);
  const file = path.join(b.execRoot, 'dashboard.url');
  assert.equal(fs.readFileSync(file, 'utf8'), `${url.toString()}\n`);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test('the token in the URL sets an HttpOnly, SameSite=Strict cookie; without it nothing is served', async () => {
  const first = await dashRequest(url, 'GET', `/?token=${tokenOf(url)}`);
  assert.equal(first.status, 303);
  assert.equal(first.headers.location, '/');
  const set = String(first.headers['set-cookie']);
  assert.ok(set.startsWith(`${cookie};`), set);
  assert.match(set, /; HttpOnly/);
  assert.match(set, /; SameSite=Strict/);

  const page = await dashRequest(url, 'GET', '/', { Cookie: cookie });
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'] ?? '', /^text\/html/);
  assert.match(page.body, /<title>Berth dashboard<\/title>/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
  const script = await dashRequest(url, 'GET', '/static/app.js', { Cookie: cookie });
  assert.equal(script.status, 200);
  assert.match(script.headers['content-type'] ?? '', /^text\/javascript/);

  for (const [what, p, h] of [
    ['page, no token', '/', {}],
    ['page, wrong token in the URL', '/?token=AAAA', {}],
    ['page, wrong cookie', '/', { Cookie: `berth_dashboard_${url.port}=${'x'.repeat(43)}` }],
    ['script, no token', '/static/app.js', {}],
    ['container list stream, no token', '/api/containers', {}],
    ['log stream, no token', '/api/logs?id=x', {}],
    ['stats stream, wrong bearer', '/api/stats?id=x', { Authorization: 'Bearer nope' }],
  ] as const) {
    const r = await dashRequest(url, 'GET', p, h);
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.body}`);
    assert.doesNotMatch(r.body, /<html/, what);
  }
});

test('a Host header that does not name the loopback listener is refused, token or not', async () => {
  for (const host of [
    'evil.example',
    `evil.example:${url.port}`,
    `127.0.0.1:${Number(url.port) + 1}`,
    `rebind.127.0.0.1.nip.io:${url.port}`,
  ]) {
    for (const p of ['/', '/api/containers', `/?token=${tokenOf(url)}`]) {
      const r = await dashRequest(url, 'GET', p, { Host: host, Cookie: cookie });
      assert.equal(r.status, 403, `Host ${host} ${p}: ${r.status}`);
    }
  }
  const local = await dashRequest(url, 'GET', '/', { Host: `localhost:${url.port}`, Cookie: cookie });
  assert.equal(local.status, 200, 'localhost names the listener too');
});

test('the container list streams with the token', async () => {
  await ok(['run', '-d', '--name', 'listed', '--network', 'none', 'busybox', 'sleep', '600']);
  const r = await dashRequest(url, 'GET', '/api/containers', { Authorization: `Bearer ${tokenOf(url)}` });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'] ?? '', /^text\/event-stream/);
  assert.match(r.body, /^event: containers\ndata: /);
  const data = JSON.parse(r.body.split('\n')[1]?.slice('data: '.length) ?? '') as {
    containers: { name: string; state: string; image: string; startedAt: string | null }[];
  };
  const c = data.containers.find((x) => x.name === 'listed');
  assert.equal(c?.state, 'running');
  assert.equal(c?.image, 'busybox');
  assert.ok(c?.startedAt);
  const missing = await dashRequest(url, 'GET', '/api/logs?id=no-such-container', { Cookie: cookie });
  assert.equal(missing.status, 404, missing.body);
});

test('actions are POSTs with the token and this listener as Origin', async () => {
  await ok(['run', '-d', '--name', 'target', '--network', 'none', 'busybox', 'sleep', '600']);
  const origin = `http://${url.host}`;
  const refused: Array<[string, string, Record<string, string>, number]> = [
    ['no token', 'POST', { Origin: origin }, 401],
    ['wrong token', 'POST', { Origin: origin, Cookie: `berth_dashboard_${url.port}=${'y'.repeat(43)}` }, 401],
    ['no Origin', 'POST', { Cookie: cookie }, 403],
    ['another Origin', 'POST', { Cookie: cookie, Origin: 'http://evil.example' }, 403],
    ['another port as Origin', 'POST', { Cookie: cookie, Origin: `http://127.0.0.1:${Number(url.port) + 1}` }, 403],
    ['rebound Host', 'POST', { Cookie: cookie, Origin: `http://evil.example:${url.port}`, Host: `evil.example:${url.port}` }, 403],
    ['GET', 'GET', { Cookie: cookie, Origin: origin }, 404],
  ];
  for (const [what, method, headers, status] of refused) {
    const r = await dashRequest(url, method, '/api/containers/target/stop', headers);
    assert.equal(r.status, status, `${what}: ${r.status} ${r.body}`);
  }
  assert.equal(await ok(['inspect', '-f', '{{.State.Running}}', 'target']), 'true', 'no refused request stopped it');

  const stop = await dashRequest(url, 'POST', '/api/containers/target/stop', { Cookie: cookie, Origin: origin });
  assert.equal(stop.status, 204, stop.body);
  assert.equal(await ok(['inspect', '-f', '{{.State.Status}}', 'target']), 'exited');
  const start = await dashRequest(url, 'POST', '/api/containers/target/start', { Cookie: cookie, Origin: origin });
  assert.equal(start.status, 204, start.body);
  assert.equal(await ok(['inspect', '-f', '{{.State.Running}}', 'target']), 'true');
  const events = await ok([
    'events',
    '--since',
    '0',
    '--until',
    String(Math.ceil(Date.now() / 1000) + 1),
    '--filter',
    'container=target',
    '--format',
    '{{.Action}}',
  ]);
  assert.match(events, /\bstop\b[\s\S]*\bstart\b/, 'the dashboard acts through the services: events as for the API');

  const bad = await dashRequest(url, 'POST', '/api/containers/target/exec', { Cookie: cookie, Origin: origin });
  assert.equal(bad.status, 404);
  const malformed = await dashRequest(url, 'POST', '/api/containers/%E0%A4%A/stop', { Cookie: cookie, Origin: origin });
  assert.equal(malformed.status, 400, malformed.body);
  const unknown = await dashRequest(url, 'POST', '/api/containers/no-such/stop', { Cookie: cookie, Origin: origin });
  assert.equal(unknown.status, 404);
  assert.match(unknown.body, /No such container: no-such/);
  const rm = await dashRequest(url, 'POST', '/api/containers/target/remove', { Cookie: cookie, Origin: origin });
  assert.equal(rm.status, 204, rm.body);
  const gone = await b.docker(['inspect', 'target']);
  assert.notEqual(gone.code, 0);
});

test('a non-loopback dashboard address is refused at config', async () => {
  for (const addr of ['0.0.0.0:9999', ':9999', '192.0.2.1:9999', '[::]:9999']) {
    const r = await run(process.execPath, [BERTHD, '--validate', '--dashboard-addr', addr], { timeoutMs: 30_000 });
    assert.equal(r.code, 1, `${addr}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /dashboard-addr ".*" is not a loopback address; the dashboard is served on loopback only/);
  }
  const file = path.join(b.dir, 'dashboard-daemon.json');
  fs.writeFileSync(file, JSON.stringify({ 'dashboard-addr': '0.0.0.0:9999' }));
  const fromFile = await run(process.execPath, [BERTHD, '--validate', '--config-file', file], { timeoutMs: 30_000 });
  assert.equal(fromFile.code, 1, fromFile.stderr);
  assert.match(fromFile.stderr, /dashboard-addr "0\.0\.0\.0:9999" is not a loopback address/);
  const bad = await run(process.execPath, [BERTHD, '--validate', '--dashboard-addr', 'nonsense'], { timeoutMs: 30_000 });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /invalid dashboard-addr "nonsense": want host:port/);
  for (const addr of ['127.0.0.1:9999', '[::1]:9999', 'localhost:9999']) {
    const r = await run(process.execPath, [BERTHD, '--validate', '--dashboard-addr', addr], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `${addr}: ${r.stderr}`);
  }
});
