// Managed plugins through the docker CLI and the raw API: Berth answers as a dockerd with no
// plugin installed, which is what lets `docker inspect` of an unknown name end in "No such object"
// instead of stopping at the plugin lookup.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PLUGINS_UNSUPPORTED } from '../../api/routes/plugins';
import { destroyBerth, startBerth, type Berth } from './harness';

let b: Berth;
before(async () => {
  b = await startBerth();
});
after(async () => {
  if (b) await destroyBerth(b);
});

function message(body: string): unknown {
  return (JSON.parse(body) as { message?: unknown }).message;
}

describe('plugins', () => {
  test('docker inspect of an unknown name walks past plugins to "No such object"', async () => {
    const r = await b.docker(['inspect', 'no-such-thing-anywhere']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /No such object: no-such-thing-anywhere/);
    assert.doesNotMatch(r.stderr, /not implemented/i);
  });

  test('docker plugin ls is empty; inspect, enable, disable and rm name the missing plugin', async () => {
    const ls = await b.docker(['plugin', 'ls', '--format', '{{.Name}}']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.equal(ls.stdout, '');
    for (const args of [
      ['inspect', 'someplugin'],
      ['enable', 'someplugin'],
      ['disable', 'someplugin'],
      ['rm', 'someplugin'],
    ]) {
      const r = await b.docker(['plugin', ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, /plugin "someplugin" not found/, args.join(' '));
    }
  });

  test('installing or creating a plugin is refused in words, not as an unimplemented route', async () => {
    const install = await b.docker(['plugin', 'install', '--grant-all-permissions', '127.0.0.1:1/some/plugin']);
    assert.equal(install.code, 1);
    assert.match(install.stderr, new RegExp(PLUGINS_UNSUPPORTED));
    const create = await b.request('POST', '/v1.53/plugins/create?name=p', {
      body: 'not a tar',
      headers: { 'Content-Type': 'application/x-tar' },
    });
    assert.equal(create.status, 503);
    assert.equal(message(create.body), PLUGINS_UNSUPPORTED);
  });

  test('the list checks its filters as dockerd does', async () => {
    const q = (f: object) => `/v1.53/plugins?filters=${encodeURIComponent(JSON.stringify(f))}`;
    const ok = await b.request('GET', q({ enabled: { true: true }, capability: { volumedriver: true } }));
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), []);
    const bogus = await b.request('GET', q({ bogus: { x: true } }));
    assert.equal(bogus.status, 400);
    assert.equal(message(bogus.body), "invalid filter 'bogus'");
    const maybe = await b.request('GET', q({ enabled: { maybe: true } }));
    assert.equal(maybe.status, 400);
    assert.equal(message(maybe.body), "invalid filter 'enabled=[maybe]'");
  });

  test("raw API: the named routes are 404s with moby's text; enable checks its timeout first", async () => {
    for (const [method, p] of [
      ['GET', '/plugins/x/json'],
      ['DELETE', '/plugins/x'],
      ['POST', '/plugins/x/disable'],
      ['POST', '/plugins/x/push'],
      ['POST', '/plugins/x/upgrade?remote=y'],
      ['POST', '/plugins/x/enable?timeout=0'],
    ] as const) {
      const r = await b.request(method, `/v1.53${p}`);
      assert.equal(r.status, 404, `${method} ${p}`);
      assert.equal(message(r.body), 'plugin "x" not found');
    }
    const noTimeout = await b.request('POST', '/v1.53/plugins/x/enable');
    assert.equal(noTimeout.status, 500);
    assert.equal(message(noTimeout.body), 'strconv.Atoi: parsing "": invalid syntax');
  });
});
