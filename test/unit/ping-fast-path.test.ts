// The /_ping fast path (api/ping-fast-path.ts) against the fastify route it stands in for: the
// same server on a unix socket, each request sent raw, once in a shape the fast path takes and
// once in a shape only fastify takes (a 1-byte body, which the route ignores), and the two
// answers compared header by header, in order, apart from Date. A hook counts the requests
// fastify saw, so the test also fails if the fast path stops taking what it should.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import { isPingUrl } from '../../api/ping-fast-path';
import { createApiServer, listen } from '../../api/server';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ping-'));
const sock = path.join(dir, 'api.sock');
const observed: { route: string; method: string; status: number }[] = [];
const app = createApiServer({
  logger: pino({ level: 'silent' }),
  backends: {},
  observeRequest: ({ route, method, status }) => observed.push({ route, method, status }),
});
let routed = 0;
app.addHook('onRequest', async () => {
  routed++;
});

before(async () => {
  await listen(app, [`unix://${sock}`], { group: '' });
});
after(async () => {
  await app.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Raw {
  status: string;
  headers: [string, string][];
  body: string;
}

/** Sends one raw HTTP/1.1 request and parses the answer (Content-Length framed, as ping's are). */
function raw(method: string, url: string, extra = ''): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const c = net.connect(sock);
    let text = '';
    c.on('error', reject);
    c.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) return;
      const [status, ...lines] = text.slice(0, end).split('\r\n');
      const headers = lines.map((l): [string, string] => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]);
      const length = Number(headers.find(([k]) => k.toLowerCase() === 'content-length')?.[1] ?? 0);
      const body = text.slice(end + 4);
      if (method !== 'HEAD' && body.length < length) return;
      c.destroy();
      resolve({ status, headers, body });
    });
    c.write(`${method} ${url} HTTP/1.1\r\nHost: berth\r\n${extra}\r\n`);
  });
}

const withoutDate = (r: Raw): Raw => ({ ...r, headers: r.headers.filter(([k]) => k !== 'Date') });

for (const [method, url] of [
  ['GET', '/_ping'],
  ['HEAD', '/_ping'],
  ['GET', '/v1.53/_ping'],
  ['HEAD', '/v1.53/_ping'],
  ['GET', '/v1.24/_ping?x=1'],
  ['GET', '/_ping?'],
]) {
  test(`${method} ${url}: the fast path answers what the route answers`, async () => {
    const seen = routed;
    const fast = await raw(method, url);
    assert.equal(routed, seen, 'fastify saw a request the fast path should have taken');
    const slow = await raw(method, url, 'Content-Length: 1\r\n\r\nx');
    assert.equal(routed, seen + 1, 'the request with a body went to fastify');
    assert.deepEqual(withoutDate(fast), withoutDate(slow));
    assert.equal(fast.status, 'HTTP/1.1 200 OK');
    assert.equal(fast.body, method === 'HEAD' ? '' : 'OK');
    assert.deepEqual(
      fast.headers.map(([k]) => k),
      [
        'server',
        'api-version',
        'ostype',
        'docker-experimental',
        'cache-control',
        'pragma',
        'builder-version',
        'swarm',
        'content-type',
        'content-length',
        'Date',
        'Connection',
        'Keep-Alive',
      ],
    );
    // Both counted by the metrics hook, under the route's pattern.
    assert.deepEqual(observed.slice(-2), [
      { route: '/_ping', method, status: 200 },
      { route: '/_ping', method, status: 200 },
    ]);
  });
}

// The fast path only ever answers 200, so each of these answers is fastify's.
test('what the fast path leaves to fastify: version errors, other methods and paths', async () => {
  for (const [method, url, status] of [
    ['GET', '/v1.99/_ping', 'HTTP/1.1 400 Bad Request'],
    ['GET', '/v1.12/_ping', 'HTTP/1.1 400 Bad Request'],
    ['POST', '/_ping', 'HTTP/1.1 404 Not Found'],
    ['GET', '/_ping/', 'HTTP/1.1 404 Not Found'],
    ['GET', '/x/_ping', 'HTTP/1.1 404 Not Found'],
    ['GET', '/v1.41/_pingx', 'HTTP/1.1 404 Not Found'],
  ] as const) {
    assert.equal((await raw(method, url)).status, status, `${method} ${url}`);
  }
  const tooNew = await raw('GET', '/v1.99/_ping');
  assert.deepEqual(JSON.parse(tooNew.body), { message: 'client version 1.99 is too new. Maximum supported API version is 1.53' });
  assert.equal(
    tooNew.headers.find(([k]) => k === 'docker-experimental'),
    undefined,
  );
});

test('isPingUrl: prefix, query, served versions only', () => {
  for (const u of ['/_ping', '/_ping?a=b', '/v1.53/_ping', '/v1.24/_ping', '/v1.41/_ping?x']) assert.equal(isPingUrl(u), true, u);
  for (const u of ['/_ping/', '/_pingx', '/v1.99/_ping', '/v1.12/_ping', '/vx/_ping', '//_ping', '/containers/_ping', '/_ping#a'])
    assert.equal(isPingUrl(u), false, u);
});
