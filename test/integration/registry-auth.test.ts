// docker login, docker search and distribution inspect through a real berthd against real
// registries (docker-registry 2.8 on 127.0.0.1 with Basic and token auth) and the kit's fake
// search index. The CLI keeps its credentials in a temporary DOCKER_CONFIG (startBerth's).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { destroyBerth, startBerth, type Berth } from './harness';
import { seedBusybox, seedIndex, startSearchIndex, useRegistry, type SearchIndex } from './registry-kit';

let b: Berth;

before(async () => {
  b = await startBerth();
});
after(async () => {
  if (b) await destroyBerth(b);
});

interface CliConfig {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
}

function cliConfig(): CliConfig {
  const file = path.join(b.dir, 'docker-config', 'config.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as CliConfig) : {};
}

const xRegistryAuth = (o: Record<string, string>): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('docker login, Basic auth', () => {
  const reg = useRegistry({ auth: { basic: [{ user: 'alice', pass: 's3cret' }] } });

  test('good credentials: Login Succeeded, stored in the CLI config; logout removes them', async () => {
    const r = await b.docker(['login', reg().host, '-u', 'alice', '--password-stdin'], { input: 's3cret\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Login Succeeded/);
    const entry = cliConfig().auths?.[reg().host];
    assert.equal(Buffer.from(entry?.auth ?? '', 'base64').toString(), 'alice:s3cret');
    assert.equal(entry?.identitytoken, undefined);
    const out = await b.docker(['logout', reg().host]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(cliConfig().auths?.[reg().host], undefined);
  });

  test("bad credentials: dockerd's text, exit 1, a 401 from /auth", async () => {
    const r = await b.docker(['login', reg().host, '-u', 'alice', '-p', 'wrong']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      new RegExp(`Error response from daemon: login attempt to http://${reg().host}/v2/ failed with status: 401 Unauthorized`),
    );
    const raw = await b.request('POST', '/auth', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'wrong', serveraddress: `http://${reg().host}/v2/` }),
    });
    assert.equal(raw.status, 401, raw.body);
    // Good credentials, raw: no IdentityToken from a Basic registry (omitempty, as dockerd).
    const ok = await b.request('POST', '/auth', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 's3cret', serveraddress: reg().host }),
    });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(ok.body.trim(), '{"Status":"Login Succeeded"}');
    const none = await b.request('POST', '/auth', { headers: { 'Content-Type': 'application/json' } });
    assert.equal(none.status, 400);
  });
});

describe('docker login, token auth with identity tokens', () => {
  const reg = useRegistry({ auth: { token: { users: [{ user: 'bob', pass: 'hunter2' }] } } });

  test('the identity token (refresh token) is stored, and berthd uses it for the token flow', async () => {
    await seedBusybox(reg(), 'team/app', 'v1');
    const r = await b.docker(['login', reg().host, '-u', 'bob', '--password-stdin'], { input: 'hunter2' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Login Succeeded/);
    const entry = cliConfig().auths?.[reg().host];
    const token = entry?.identitytoken;
    assert.ok(token !== undefined && token !== '', JSON.stringify(cliConfig()));
    const ts = reg().tokenServer;
    assert.ok(ts);
    const raw = await b.request('POST', '/auth', {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'hunter2', serveraddress: `https://${reg().host}` }),
    });
    assert.equal(raw.status, 200, raw.body);
    const answer = JSON.parse(raw.body) as { Status: string; IdentityToken?: string };
    assert.deepEqual(Object.keys(answer), ['Status', 'IdentityToken']);
    assert.ok(ts.refreshTokens.has(answer.IdentityToken ?? ''));
    assert.ok(ts.requests.some((q) => q.offline && q.clientId === 'docker' && q.user === 'bob'));

    // The identity token alone (no password) gets a pull token through grant_type=refresh_token.
    const res = await b.request('GET', `/distribution/${reg().host}/team/app:v1/json`, {
      headers: { 'X-Registry-Auth': xRegistryAuth({ identitytoken: token }) },
    });
    assert.equal(res.status, 200, res.body);
    assert.ok(
      ts.requests.some((q) => q.grantType === 'refresh_token' && q.user === 'bob' && q.scopes.includes('repository:team/app:pull')),
    );
    // Without credentials the repository is not readable.
    const anon = await b.request('GET', `/distribution/${reg().host}/team/app:v1/json`);
    assert.equal(anon.status, 401, anon.body);

    // The CLI sends the stored identity token with pull and push; berthd trades it for tokens.
    const before = ts.requests.length;
    const pull = await b.docker(['pull', `${reg().host}/team/app:v1`], { timeoutMs: 60_000 });
    assert.equal(pull.code, 0, pull.stderr);
    const tag = await b.docker(['tag', `${reg().host}/team/app:v1`, `${reg().host}/team/copy:v1`]);
    assert.equal(tag.code, 0, tag.stderr);
    const push = await b.docker(['push', `${reg().host}/team/copy:v1`], { timeoutMs: 60_000 });
    assert.equal(push.code, 0, push.stderr);
    const later = ts.requests.slice(before);
    assert.ok(
      later.some(
        (q) =>
          q.grantType === 'refresh_token' &&
          q.user === 'bob' &&
          q.scopes.some((sc) => sc.startsWith('repository:team/copy:') && sc.includes('push')),
      ),
      JSON.stringify(later),
    );
    assert.ok(
      later.every((q) => q.grantType !== 'password' && q.status === 200),
      JSON.stringify(later),
    );
  });

  test("bad credentials: exit 1 with the token server's refusal", async () => {
    const r = await b.docker(['login', reg().host, '-u', 'bob', '-p', 'nope']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error response from daemon: .*unauthorized/i);
  });
});

describe('docker search', () => {
  let index: SearchIndex;
  before(async () => {
    index = await startSearchIndex([
      { name: 'busybox', description: 'the official busybox', star_count: 30, is_official: true, is_automated: false },
      { name: 'someone/busybox', description: 'a fork', star_count: 3, is_official: false, is_automated: true },
      { name: 'other/bus-tools', description: 'tools', star_count: 12, is_official: false, is_automated: false },
    ]);
  });
  after(async () => {
    if (index) await index.stop();
  });
  const names = async (args: string[]): Promise<string[]> => {
    const r = await b.docker(['search', '--format', '{{.Name}}', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '');
  };

  test('term, limit and filters', async () => {
    assert.deepEqual(await names([`${index.host}/bus`]), ['busybox', 'someone/busybox', 'other/bus-tools']);
    assert.equal(index.requests.at(-1)?.q, 'bus');
    assert.equal(index.requests.at(-1)?.n, '25');
    assert.deepEqual(await names(['--limit', '1', `${index.host}/bus`]), ['busybox']);
    assert.equal(index.requests.at(-1)?.n, '1');
    assert.deepEqual(await names(['--filter', 'stars=10', `${index.host}/bus`]), ['busybox', 'other/bus-tools']);
    assert.deepEqual(await names(['--filter', 'is-official=true', `${index.host}/bus`]), ['busybox']);
    assert.deepEqual(await names(['--filter', 'is-automated=true', `${index.host}/bus`]), []);
    const raw = await b.request('GET', `/images/search?term=${encodeURIComponent(`${index.host}/fork`)}`);
    assert.deepEqual(JSON.parse(raw.body), [
      { star_count: 3, is_official: false, name: 'someone/busybox', is_automated: false, description: 'a fork' },
    ]);
  });

  test("bad parameters in dockerd's words", async () => {
    const stars = await b.docker(['search', '--filter', 'stars=many', `${index.host}/bus`]);
    assert.equal(stars.code, 1);
    assert.match(stars.stderr, /invalid filter 'stars=many': strconv\.Atoi: parsing "many": invalid syntax/);
    const limit = await b.request('GET', `/images/search?term=${index.host}/bus&limit=101`);
    assert.equal(limit.status, 400);
    assert.equal((JSON.parse(limit.body) as { message: string }).message, 'limit 101 is outside the range of [1, 100]');
    const filter = await b.request('GET', `/images/search?term=bus&filters=${encodeURIComponent('{"name":["x"]}')}`);
    assert.equal(filter.status, 400);
  });

  test('an unreachable index fails promptly with the cause', async () => {
    const dead = await b.docker(['search', '127.0.0.1:1/bus'], { timeoutMs: 40_000 });
    assert.equal(dead.code, 1);
    assert.match(dead.stderr, /invalid registry endpoint "http:\/\/127\.0\.0\.1:1\/v1\/"\. HTTPS attempt: .*HTTP attempt: /);
    // docker.io's index is not reachable from here: an error, not a hang.
    const hub = await b.docker(['search', 'busybox'], { timeoutMs: 45_000 });
    assert.equal(hub.code, 1);
    assert.match(hub.stderr, /Error response from daemon: .*index\.docker\.io/);
  });
});

describe('distribution inspect', () => {
  const reg = useRegistry();

  test('a single manifest: its descriptor and the platform of its config', async () => {
    const m = await seedBusybox(reg(), 'one', 'latest', { platform: { architecture: 'arm64', variant: 'v8' } });
    const docker = new Docker({ socketPath: b.socket });
    const info = (await docker.getImage(`${reg().host}/one:latest`).distribution({})) as unknown;
    assert.deepEqual(info, {
      Descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.size },
      Platforms: [{ architecture: 'arm64', os: 'linux', variant: 'v8' }],
    });
  });

  test('an index: one platform per entry, by tag and by digest', async () => {
    const idx = await seedIndex(reg(), 'multi', 'v1', { attestation: true });
    const want = {
      Descriptor: { mediaType: idx.mediaType, digest: idx.digest, size: idx.body.length },
      Platforms: [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux', variant: 'v8' },
        { architecture: 'unknown', os: 'unknown' },
      ],
    };
    for (const ref of [`${reg().host}/multi:v1`, `${reg().host}/multi@${idx.digest}`]) {
      const res = await b.request('GET', `/distribution/${ref}/json`);
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(JSON.parse(res.body), want);
    }
  });

  test("unknown tag and repository: 404 with the registry's error", async () => {
    const tag = await b.request('GET', `/distribution/${reg().host}/multi:nope/json`);
    assert.equal(tag.status, 404, tag.body);
    assert.match((JSON.parse(tag.body) as { message: string }).message, /^manifest unknown: /);
    const repo = await b.request('GET', `/distribution/${reg().host}/nothing/here:v1/json`);
    assert.equal(repo.status, 404, repo.body);
    assert.match((JSON.parse(repo.body) as { message: string }).message, /unknown/);
    const id = await b.request('GET', `/distribution/${'a'.repeat(64)}/json`);
    assert.equal(id.status, 500);
    assert.equal((JSON.parse(id.body) as { message: string }).message, 'no manifest found for full image ID');
  });
});
