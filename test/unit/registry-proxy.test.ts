import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { closeTransports, openRepository } from '../../registry/client';
import { proxyFor } from '../../registry/proxy';
import { json, startFake } from './registry-fake';

const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, HTTP_PROXY: process.env.HTTP_PROXY, NO_PROXY: process.env.NO_PROXY };
after(() => {
  closeTransports();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test('proxyFor: Go ProxyFromEnvironment rules', () => {
  const env = {
    HTTPS_PROXY: 'proxy.corp:3128',
    http_proxy: 'http://u:p@proxy.corp:8080',
    NO_PROXY: '.internal.example,10.0.0.0/8,registry.example:5000,192.168.1.9',
  };
  const p = (u: string): string | undefined => proxyFor(new URL(u), env)?.host;
  assert.equal(p('https://registry-1.docker.io/v2/'), 'proxy.corp:3128');
  assert.equal(p('http://registry.example/v2/'), 'proxy.corp:8080');
  assert.equal(p('https://127.0.0.1:5000/v2/'), undefined);
  assert.equal(p('https://localhost:5000/v2/'), undefined);
  assert.equal(p('https://[::1]:5000/v2/'), undefined);
  assert.equal(p('https://a.internal.example/v2/'), undefined);
  assert.equal(p('https://internal.example/v2/'), undefined);
  assert.equal(p('https://10.1.2.3/v2/'), undefined);
  assert.equal(p('https://11.1.2.3/v2/'), 'proxy.corp:3128');
  assert.equal(p('https://registry.example:5000/v2/'), undefined);
  assert.equal(p('https://registry.example:5001/v2/'), 'proxy.corp:3128');
  assert.equal(p('https://192.168.1.9/v2/'), undefined);
  assert.equal(proxyFor(new URL('https://x.example/'), { HTTPS_PROXY: 'p:1', NO_PROXY: '*' }), undefined);
  assert.equal(proxyFor(new URL('https://x.example/'), {}), undefined);
});

test('https through an HTTP CONNECT proxy, http with absolute URLs and Proxy-Authorization', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-proxy-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '2', '-subj', '/CN=registry.test'],
    { cwd: dir, stdio: 'ignore' },
  );
  const target = await startFake(
    (req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      res.writeHead(200, { 'content-length': '11' });
      res.end();
    },
    { tls: { cert: readFileSync(path.join(dir, 'c.pem')), key: readFileSync(path.join(dir, 'k.pem')) } },
  );
  const connects: string[] = [];
  const plain: { url: string; auth?: string; host?: string }[] = [];
  const proxy = http.createServer((req, res) => {
    // Plain http through the proxy: answer as the registry would.
    plain.push({ url: req.url ?? '', auth: req.headers['proxy-authorization'], host: req.headers.host });
    if ((req.url ?? '').endsWith('/v2/')) return json(res, 200, {});
    res.writeHead(200, { 'content-length': '22' });
    res.end();
  });
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    connects.push(req.url ?? '');
    const up = net.connect(target.port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const pport = (proxy.address() as net.AddressInfo).port;
  try {
    process.env.HTTPS_PROXY = `http://127.0.0.1:${pport}`;
    process.env.HTTP_PROXY = `http://bob:s%40cret@127.0.0.1:${pport}`;
    delete process.env.NO_PROXY;
    const digest = 'sha256:' + 'f'.repeat(64);
    const viaTunnel = openRepository({ url: 'https://registry.test', mirror: false, tls: { skipVerify: true } }, 'a/b', {
      actions: ['pull'],
      userAgent: 'ua',
    });
    assert.equal(await viaTunnel.headBlob(digest), 11);
    assert.ok(connects.length >= 1);
    assert.equal(connects[0], 'registry.test:443');

    const viaProxy = openRepository({ url: 'http://registry.test:5000', mirror: false }, 'a/b', { actions: ['pull'], userAgent: 'ua' });
    assert.equal(await viaProxy.headBlob(digest), 22);
    assert.equal(plain.at(-1)?.url, `http://registry.test:5000/v2/a/b/blobs/${digest}`);
    assert.equal(plain.at(-1)?.host, 'registry.test:5000');
    assert.equal(plain.at(-1)?.auth, `Basic ${Buffer.from('bob:s@cret').toString('base64')}`);
  } finally {
    delete process.env.HTTPS_PROXY;
    delete process.env.HTTP_PROXY;
    closeTransports();
    proxy.closeAllConnections();
    await new Promise<void>((r) => proxy.close(() => r()));
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an unsupported proxy scheme fails rather than going direct', async () => {
  process.env.HTTPS_PROXY = 'socks5://127.0.0.1:1';
  try {
    const repo = openRepository({ url: 'https://registry.test', mirror: false }, 'a/b', { actions: ['pull'], userAgent: 'ua2' });
    await assert.rejects(
      repo.headBlob('sha256:' + 'f'.repeat(64)),
      (e: unknown) => e instanceof Error && 'transport' in e && e.transport === true && /unsupported proxy scheme socks5/.test(e.message),
    );
  } finally {
    delete process.env.HTTPS_PROXY;
  }
});
