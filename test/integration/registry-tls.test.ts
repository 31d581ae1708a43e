// Registries beyond loopback: certs.d CAs and client certificates, untrusted certificates refused
// with dockerd's words, plain http refused unless --insecure-registry / daemon.json
// insecure-registries says otherwise. Loopback is always insecure (https without verification,
// then http), so every registry here listens on a 198.18.X.Y address of an interface the test makes
// (kit's hostAddress), and berthd reads certs.d from a temporary BERTH_CERTS_DIR.
//
// dockerd's texts (moby registry + Go net/http, crypto/tls ≥1.20):
//   Get "https://H/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority
//   Get "https://H/v2/": http: server gave HTTP response to HTTPS client
//   missing key client.key for client certificate client.cert. CA certificates must use the extension .crt
// Checked by hand against the reference dockerd 20.10 (own socket, data root, bridge; /etc/docker
// bound to a temporary directory in a private mount namespace) on the same registries: the same
// texts, except that its older Go omits `tls: failed to verify certificate: ` and its certs.d texts
// are the older ones (docs/divergence.md); `remote error: tls: bad certificate` without a client
// certificate; both insecure-registry forms work and `docker info` lists them.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { destroyBerth, loadBusybox, startBerth, type Berth } from './harness';
import { hostAddress, seedBusybox, startRegistry, trustRegistry, type HostAddress, type Registry } from './registry-kit';

const USER = { user: 'alice', pass: 's3cret' };
const UNKNOWN_CA = 'tls: failed to verify certificate: x509: certificate signed by unknown authority';
const HTTP_TO_HTTPS = 'http: server gave HTTP response to HTTPS client';

let addr: HostAddress | undefined;
let certsDir = '';
let tlsReg: Registry;
let mtlsReg: Registry;
let plainReg: Registry;
let mirrorReg: Registry;
const regs: Registry[] = [];
const berths: Berth[] = [];

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A berthd reading certs.d from the test's directory. */
async function berth(opts: { args?: string[]; daemonJson?: string } = {}): Promise<Berth> {
  const prev = process.env.BERTH_CERTS_DIR;
  process.env.BERTH_CERTS_DIR = certsDir;
  try {
    const b = await startBerth(opts);
    berths.push(b);
    return b;
  } finally {
    if (prev === undefined) delete process.env.BERTH_CERTS_DIR;
    else process.env.BERTH_CERTS_DIR = prev;
  }
}

before(async () => {
  addr = hostAddress();
  certsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-certs-'));
  const address = addr.address;
  [tlsReg, mtlsReg, plainReg, mirrorReg] = await Promise.all([
    startRegistry({ tls: true, address, auth: { basic: [USER] } }),
    startRegistry({ tls: true, address, clientCa: true }),
    startRegistry({ address }),
    startRegistry({ tls: true, address }),
  ]);
  regs.push(tlsReg, mtlsReg, plainReg, mirrorReg);
  await seedBusybox(plainReg, 'plain/busybox', 'v1');
  await seedBusybox(mirrorReg, 'library/busybox', 'mirrored');
});

after(async () => {
  for (const b of berths) await destroyBerth(b);
  for (const r of regs) await r.stop();
  addr?.remove();
  if (certsDir !== '') fs.rmSync(certsDir, { recursive: true, force: true });
});

describe('a berthd with certs.d and no insecure registries', () => {
  let b: Berth;
  before(async () => {
    b = await berth({ args: ['--registry-mirror', mirrorReg.url] });
    await loadBusybox(b);
  });

  test('CA in <certsDir>/<ip:port>/ca.crt: login, push and pull work', async () => {
    const trusted = trustRegistry(certsDir, tlsReg);
    try {
      const login = await b.docker(['login', tlsReg.host, '-u', USER.user, '--password-stdin'], { input: USER.pass });
      assert.equal(login.code, 0, login.stderr);
      assert.match(login.stdout, /Login Succeeded/);
      const ref = `${tlsReg.host}/tls/busybox:v1`;
      assert.equal((await b.docker(['tag', 'busybox', ref])).code, 0);
      const push = await b.docker(['push', ref]);
      assert.equal(push.code, 0, push.stderr + push.stdout);
      assert.match(push.stdout, /v1: digest: sha256:[0-9a-f]{64} size: \d+/);
      assert.equal((await b.docker(['rmi', ref])).code, 0);
      const pull = await b.docker(['pull', ref]);
      assert.equal(pull.code, 0, pull.stderr + pull.stdout);
      assert.match(pull.stdout, /Status: Downloaded newer image for /);
      // Distribution inspect goes the same way, with the caller's credentials.
      const auth = Buffer.from(JSON.stringify({ username: USER.user, password: USER.pass, serveraddress: tlsReg.host })).toString(
        'base64url',
      );
      const inspect = await b.request('GET', `/distribution/${tlsReg.host}/tls/busybox:v1/json`, { headers: { 'X-Registry-Auth': auth } });
      assert.equal(inspect.status, 200, inspect.body);
      const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
      assert.equal((JSON.parse(inspect.body) as { Descriptor: { digest: string } }).Descriptor.digest, digest);
    } finally {
      fs.rmSync(trusted, { recursive: true, force: true });
    }
  });

  test("without the CA: pull, push and login are refused with Go's x509 text", async () => {
    const want = new RegExp(esc(`Get "https://${tlsReg.host}/v2/": ${UNKNOWN_CA}`));
    const pull = await b.docker(['pull', `${tlsReg.host}/tls/busybox:v1`]);
    assert.equal(pull.code, 1);
    assert.match(pull.stderr, want);
    assert.match(pull.stderr, /^Error response from daemon: /);
    const ref = `${tlsReg.host}/tls/other:v1`;
    assert.equal((await b.docker(['tag', 'busybox', ref])).code, 0);
    const push = await b.docker(['push', ref]);
    assert.equal(push.code, 1);
    assert.match(push.stderr + push.stdout, want);
    const login = await b.docker(['login', tlsReg.host, '-u', USER.user, '--password-stdin'], { input: USER.pass });
    assert.equal(login.code, 1);
    assert.match(login.stderr, want);
    const inspect = await b.request('GET', `/distribution/${tlsReg.host}/tls/busybox:v1/json`);
    assert.equal(inspect.status, 500, inspect.body);
    assert.equal((JSON.parse(inspect.body) as { message: string }).message, `Get "https://${tlsReg.host}/v2/": ${UNKNOWN_CA}`);
    // Search: moby's advice names the flag and the certs.d path.
    const search = await b.docker(['search', `${tlsReg.host}/busybox`]);
    assert.equal(search.code, 1);
    assert.match(
      search.stderr,
      new RegExp(esc(`invalid registry endpoint https://${tlsReg.host}/v1/: Get "https://${tlsReg.host}/v1/search`)),
    );
    assert.match(
      search.stderr,
      new RegExp(
        esc(
          `${UNKNOWN_CA}. If this private registry supports only HTTP or HTTPS with an unknown CA certificate, add \`--insecure-registry ${tlsReg.host}\``,
        ),
      ),
    );
  });

  test("a registry requiring a client certificate: client.cert + client.key work; a .cert without .key is moby's error", async () => {
    const client = mtlsReg.tls?.client;
    assert.ok(client);
    const dir = trustRegistry(certsDir, mtlsReg);
    try {
      fs.writeFileSync(path.join(dir, 'client.cert'), client.certPem);
      fs.writeFileSync(path.join(dir, 'client.key'), client.keyPem);
      const ref = `${mtlsReg.host}/mtls/busybox:v1`;
      assert.equal((await b.docker(['tag', 'busybox', ref])).code, 0);
      const push = await b.docker(['push', ref]);
      assert.equal(push.code, 0, push.stderr + push.stdout);
      assert.equal((await b.docker(['rmi', ref])).code, 0);
      const pull = await b.docker(['pull', ref]);
      assert.equal(pull.code, 0, pull.stderr + pull.stdout);

      fs.rmSync(path.join(dir, 'client.key'));
      fs.rmSync(path.join(dir, 'client.cert'));
      // No client certificate at all: the registry's TLS alert, as Go reports a remote one.
      const none = await b.docker(['pull', ref]);
      assert.equal(none.code, 1);
      assert.match(
        none.stderr,
        new RegExp(esc(`Error response from daemon: Get "https://${mtlsReg.host}/v2/": remote error: tls: bad certificate`)),
      );

      fs.writeFileSync(path.join(dir, 'client.cert'), client.certPem);
      const half = await b.docker(['pull', ref]);
      assert.equal(half.code, 1);
      assert.match(
        half.stderr,
        /Error response from daemon: missing key client\.key for client certificate client\.cert\. CA certificates must use the extension \.crt/,
      );
      // moby's invalidParamf: a 400, before any request.
      const raw = await b.request('POST', `/images/create?fromImage=${encodeURIComponent(`${mtlsReg.host}/mtls/busybox`)}&tag=v1`);
      assert.equal(raw.status, 400, raw.body);
      fs.rmSync(path.join(dir, 'client.cert'));
      fs.writeFileSync(path.join(dir, 'client.key'), client.keyPem);
      const keyOnly = await b.docker(['pull', ref]);
      assert.equal(keyOnly.code, 1);
      assert.match(keyOnly.stderr, /Error response from daemon: missing client certificate client\.cert for key client\.key/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an https docker.io mirror whose CA is in certs.d serves docker.io pulls', async () => {
    const dir = trustRegistry(certsDir, mirrorReg);
    try {
      const pull = await b.docker(['pull', 'busybox:mirrored']);
      assert.equal(pull.code, 0, pull.stderr + pull.stdout);
      assert.match(pull.stdout, /Status: Downloaded newer image for busybox:mirrored/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a plain-http registry off loopback is not insecure: Go\'s "HTTP response to HTTPS client"', async () => {
    const pull = await b.docker(['pull', `${plainReg.host}/plain/busybox:v1`]);
    assert.equal(pull.code, 1);
    assert.match(pull.stderr, new RegExp(esc(`Error response from daemon: Get "https://${plainReg.host}/v2/": ${HTTP_TO_HTTPS}`)));
  });
});

describe('insecure registries', () => {
  test('--insecure-registry IP:PORT: plain http works, an untrusted certificate is not verified; docker info lists them', async () => {
    const b = await berth({ args: ['--insecure-registry', plainReg.host, '--insecure-registry', tlsReg.host] });
    const pull = await b.docker(['pull', `${plainReg.host}/plain/busybox:v1`]);
    assert.equal(pull.code, 0, pull.stderr + pull.stdout);
    // The https registry whose CA nobody trusts: login and pull skip verification.
    const login = await b.docker(['login', tlsReg.host, '-u', USER.user, '--password-stdin'], { input: USER.pass });
    assert.equal(login.code, 0, login.stderr);
    const tlsPull = await b.docker(['pull', `${tlsReg.host}/tls/busybox:v1`]);
    assert.equal(tlsPull.code, 0, tlsPull.stderr + tlsPull.stdout);
    const info = await b.docker(['info']);
    assert.equal(info.code, 0, info.stderr);
    const section = info.stdout.slice(info.stdout.indexOf('Insecure Registries:'));
    for (const want of [plainReg.host, tlsReg.host, '127.0.0.0/8', '::1/128']) assert.match(section, new RegExp(`\\n  ${esc(want)}\\n`));
  });

  test('daemon.json insecure-registries as a CIDR: plain http works; docker info lists the CIDR', async () => {
    const cidr = `${(addr?.address ?? '').split('.').slice(0, 3).join('.')}.0/24`;
    const b = await berth({ daemonJson: `${JSON.stringify({ 'insecure-registries': [cidr] })}\n` });
    const pull = await b.docker(['pull', `${plainReg.host}/plain/busybox:v1`]);
    assert.equal(pull.code, 0, pull.stderr + pull.stdout);
    const info = await b.docker(['info', '--format', '{{json .RegistryConfig.InsecureRegistryCIDRs}}']);
    assert.equal(info.code, 0, info.stderr);
    assert.deepEqual((JSON.parse(info.stdout) as string[]).sort(), [cidr, '127.0.0.0/8', '::1/128'].sort());
  });
});
