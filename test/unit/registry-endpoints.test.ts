import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { closeTransports, openRepository } from '../../registry/client';
import { endpointsFor, indexEndpoint, isInsecure, loadCerts } from '../../registry/endpoints';
import { RegistryError, type RegistrySettings } from '../../registry/types';
import { json, startFake } from './registry-fake';

const settings = (s: Partial<RegistrySettings> = {}): RegistrySettings => ({
  insecureRegistries: [],
  mirrors: [],
  certsDir: '/nonexistent-certs.d',
  userAgent: 'ua',
  ...s,
});

let dir = '';
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'berth-reg-tls-'));
});
after(() => {
  closeTransports();
  rmSync(dir, { recursive: true, force: true });
});

test('docker.io: mirrors first (scheme as written), then registry-1.docker.io', async () => {
  const eps = await endpointsFor('docker.io', settings({ mirrors: ['http://127.0.0.1:5001/', 'https://mirror.example.com'] }));
  assert.deepEqual(
    eps.map((e) => [e.url, e.mirror, e.tls?.skipVerify]),
    [
      ['http://127.0.0.1:5001', true, undefined],
      ['https://mirror.example.com', true, false],
      ['https://registry-1.docker.io', false, false],
    ],
  );
  const idx = await indexEndpoint('docker.io', settings());
  assert.deepEqual(
    idx.map((e) => e.url),
    ['https://index.docker.io'],
  );
});

test('loopback and listed registries: https without verification, then http; others https only', async () => {
  const s = settings({ insecureRegistries: ['myreg.example:5000', '10.1.0.0/16'] });
  for (const host of ['127.0.0.1:5000', 'localhost:5000', '[::1]:5000', 'myreg.example:5000', '10.1.2.3']) {
    const eps = await endpointsFor(host, s);
    assert.equal(eps.length, 2, host);
    assert.equal(eps[0].url.startsWith('https://'), true, host);
    assert.equal(eps[0].tls?.skipVerify, true, host);
    assert.equal(eps[1].url.startsWith('http://'), true, host);
    assert.equal(eps[1].tls, undefined);
  }
  const secure = await endpointsFor('myreg.example:5001', s);
  assert.deepEqual(
    secure.map((e) => [e.url, e.tls?.skipVerify]),
    [['https://myreg.example:5001', false]],
  );
  assert.equal(await isInsecure('10.2.0.1', s), false);
  assert.equal(await isInsecure('no-such-host.invalid', s), false);
  assert.equal(await isInsecure('LOCALHOST', s), true);
});

test('certs.d: *.crt CAs, *.cert with *.key; a half pair is an error', async () => {
  const d = path.join(dir, 'certs1');
  mkdirSync(path.join(d, 'reg.example:443'), { recursive: true });
  writeFileSync(path.join(d, 'reg.example:443', 'ca.crt'), 'CA');
  writeFileSync(path.join(d, 'reg.example:443', 'client.cert'), 'CERT');
  writeFileSync(path.join(d, 'reg.example:443', 'client.key'), 'KEY');
  const got = await loadCerts(d, 'reg.example:443');
  assert.deepEqual(got, { ca: [Buffer.from('CA')], cert: Buffer.from('CERT'), key: Buffer.from('KEY') });
  assert.deepEqual(await loadCerts(d, 'absent:1'), {});
  mkdirSync(path.join(d, 'half'));
  writeFileSync(path.join(d, 'half', 'c.cert'), 'x');
  await assert.rejects(
    loadCerts(d, 'half'),
    (e: unknown) => e instanceof RegistryError && /missing key c\.key for client certificate c\.cert/.test(e.message),
  );
  mkdirSync(path.join(d, 'half2'));
  writeFileSync(path.join(d, 'half2', 'c.key'), 'x');
  await assert.rejects(loadCerts(d, 'half2'), /missing client certificate c\.cert for key c\.key/);
  const eps = await endpointsFor('reg.example:443', settings({ certsDir: d }));
  assert.deepEqual(eps[0].tls?.ca, [Buffer.from('CA')]);
});

test('https with a CA from certs.d is trusted; without it the certificate is refused', async () => {
  const ca = path.join(dir, 'ca');
  mkdirSync(ca);
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: ca, stdio: 'ignore' });
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(path.join(ca, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run([
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  const reg = await startFake(
    (req, res) => {
      if (req.url === '/v2/') return json(res, 200, {});
      res.writeHead(200, { 'content-length': '5' });
      res.end();
    },
    { tls: { cert: readFileSync(path.join(ca, 'srv.pem')), key: readFileSync(path.join(ca, 'srv.key')) } },
  );
  try {
    const hostPort = `127.0.0.1:${reg.port}`;
    const certsDir = path.join(dir, 'certs2');
    mkdirSync(path.join(certsDir, hostPort), { recursive: true });
    writeFileSync(path.join(certsDir, hostPort, 'ca.crt'), readFileSync(path.join(ca, 'ca.pem')));
    // Verified, not skipped: take the https endpoint but force verification on.
    const [withCa] = await endpointsFor(hostPort, settings({ certsDir }));
    const trusted = openRepository({ ...withCa, tls: { ...withCa.tls, skipVerify: false } }, 'a/b', { actions: ['pull'], userAgent: 'ua' });
    assert.equal(await trusted.headBlob('sha256:' + 'b'.repeat(64)), 5);
    const untrusted = openRepository({ url: withCa.url, mirror: false, tls: { skipVerify: false } }, 'a/b', {
      actions: ['pull'],
      userAgent: 'ua',
    });
    await assert.rejects(
      untrusted.headBlob('sha256:' + 'b'.repeat(64)),
      (e: unknown) => e instanceof RegistryError && e.transport && /certificate/i.test(e.message),
    );
    const skipping = openRepository({ url: withCa.url, mirror: false, tls: { skipVerify: true } }, 'a/b', {
      actions: ['pull'],
      userAgent: 'ua',
    });
    assert.equal(await skipping.headBlob('sha256:' + 'b'.repeat(64)), 5);
  } finally {
    await reg.close();
  }
});
