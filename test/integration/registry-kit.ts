// The registry test kit: a real CNCF distribution registry (Debian's docker-registry 2.8) on
// 127.0.0.1, started per test file with its own config and storage in a temporary directory, with
// optional Basic auth (htpasswd), Bearer auth (the kit's token server) and TLS (a CA made here).
// Plus, re-exported from test/fixtures: seeding without Berth, a faulty proxy, a fake search index.
//
// Typical use:
//   const reg = useRegistry({ auth: { basic: [{ user: 'u', pass: 'p' }] } });   // before/after hooks
//   test('…', async () => { await seedBusybox(reg(), 'library/busybox', 'latest'); … });
//
// docker.io mirror tests: a mirror is just a registry holding `library/<name>` (and
// `<org>/<name>`) repositories. Seed `library/busybox:latest` into a plain registry and start berthd
// with `{"registry-mirrors": ["http://<reg.host>"]}` (daemon.json or `--registry-mirror`); then
// `docker pull busybox` is served from it, as for a user behind a mirror. 127.0.0.1 is insecure by
// default, so plain http works.
//
// TLS: `tls: true` gives `reg.tls.caPem` / `caPath`; a test trusting it writes the PEM to
// `<certsDir>/<reg.host>/ca.crt` (dockerd's certs.d layout; `trustRegistry` does it), or leaves it
// out to see the refusal. Beware: dockerd counts 127.0.0.0/8 as insecure (names resolving there
// too), and for insecure registries it tries https WITHOUT verifying, then http; so against
// dockerd an unknown CA on 127.0.0.1 is not refused. To test certificate checking, listen on a
// non-loopback address the test makes: `const a = hostAddress(); startRegistry({ tls: true,
// address: a.address })` (the certificate then names that IP too; `clientCa: true` requires a
// client certificate, `reg.tls.client`); `a.remove()` in `after`.
//
// Failure tests: `faultyProxy(reg, { dropAfterBytes, corruptBlob, times, blobFilter,
// throttleBytesPerSec, intercept })` in front of a plain registry, and pull through `proxy.host`;
// `proxy.blobGets(digest)` counts downloads. Note the config blob is a blob too: filter with
// `blobFilter: (d) => layerDigests.includes(d)` to hit layers only.
//
// Checked against the reference dockerd 20.10 by hand: anonymous and logged-in pulls through the
// token server (login stores its refresh token as identitytoken, later pulls POST
// grant_type=refresh_token), a push with a cross-repository mount, Basic login, index platform
// selection, the mirror, and the proxy's cuts (dockerd retries) and corruption (verification fails).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { KitSession, kitRequest, type KitCredentials } from '../fixtures/registry-http';
import { seedBigImage, seedBusybox, seedIndex } from '../fixtures/registry-seed';
import { startTokenServer, type TokenServer, type TokenServerOptions } from '../fixtures/registry-token-server';
import { freeLoopbackPort } from './net-tools';

export * from '../fixtures/registry-http';
export * from '../fixtures/registry-seed';
export * from '../fixtures/registry-token-server';
export * from '../fixtures/registry-faults';
export * from '../fixtures/registry-search';

export const REGISTRY_BIN = process.env.BERTH_TEST_REGISTRY ?? '/usr/bin/docker-registry';

export type RegistryAuth = 'none' | { basic: KitCredentials[] } | { token: TokenServerOptions };

export interface RegistryOptions {
  auth?: RegistryAuth;
  /** Serve https with a certificate for 127.0.0.1 and localhost signed by a CA made for this registry. */
  tls?: boolean;
  /**
   * The address to listen on (default 127.0.0.1). A non-loopback address of this host (one the test
   * made, see `hostAddress`) is what proves certificate checking and --insecure-registry:
   * loopback is always insecure.
   */
  address?: string;
  /** With `tls`: require a client certificate signed by the kit's CA (`http.tls.clientcas`); `reg.tls.client` holds one. */
  clientCa?: boolean;
  /** Extra top-level config merged into the registry's config (e.g. `{ validation: … }`). */
  extraConfig?: Record<string, unknown>;
}

export interface Registry {
  /** `ADDRESS:PORT` (127.0.0.1 unless `address` was given) — what goes in image references. */
  host: string;
  /** `http(s)://127.0.0.1:PORT`. */
  url: string;
  /** Temporary directory: config.yml, storage/, registry.log, htpasswd, certs. */
  dir: string;
  pid: number;
  tls?: { caPem: string; caPath: string; client?: { certPem: string; keyPem: string } };
  /** The token server, for `auth: { token }`. */
  tokenServer?: TokenServer;
  /** Credentials that may push anywhere (the first Basic user, or the token server's admin), for seeding. */
  admin?: KitCredentials;
  /** A session with the admin credentials (or anonymous), for seeding and reading back. */
  session(credentials?: KitCredentials): KitSession;
  logs(): string;
  stop(): Promise<void>;
}

/** A port that was free a moment ago on 127.0.0.1. */
export const freePort = freeLoopbackPort;

/**
 * A CA and a server certificate for 127.0.0.1/localhost (and `cn` when it is another IP) in `dir`
 * (EC P-256: quick to make).
 */
export function makeTlsFiles(dir: string, cn = '127.0.0.1'): { caPath: string; caKey: string; cert: string; key: string } {
  const caPath = path.join(dir, 'ca.crt');
  const caKey = path.join(dir, 'ca.key');
  const key = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const cert = path.join(dir, 'server.crt');
  const ext = path.join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const quiet = { stdio: ['ignore', 'ignore', 'pipe'] as ['ignore', 'ignore', 'pipe'] };
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      caKey,
      '-out',
      caPath,
      '-days',
      '2',
      '-subj',
      '/CN=berth test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    quiet,
  );
  execFileSync('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`], quiet);
  const extraSan = net.isIP(cn) !== 0 && cn !== '127.0.0.1' ? `,IP:${cn}` : '';
  fs.writeFileSync(
    ext,
    `subjectAltName=IP:127.0.0.1,DNS:localhost${extraSan}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
  );
  execFileSync(
    'openssl',
    ['x509', '-req', '-in', csr, '-CA', caPath, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext],
    quiet,
  );
  return { caPath, caKey, cert, key };
}

/** A client certificate (`client.cert` / `client.key` in certs.d terms) signed by the CA makeTlsFiles made in `dir`. */
export function makeClientCert(dir: string, cn = 'berth test client'): { cert: string; key: string } {
  const key = path.join(dir, 'client.key');
  const csr = path.join(dir, 'client.csr');
  const cert = path.join(dir, 'client.cert');
  const ext = path.join(dir, 'client.ext');
  const quiet = { stdio: ['ignore', 'ignore', 'pipe'] as ['ignore', 'ignore', 'pipe'] };
  execFileSync(
    'openssl',
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`],
    quiet,
  );
  fs.writeFileSync(ext, 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n');
  execFileSync(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      path.join(dir, 'ca.crt'),
      '-CAkey',
      path.join(dir, 'ca.key'),
      '-CAcreateserial',
      '-out',
      cert,
      '-days',
      '2',
      '-extfile',
      ext,
    ],
    quiet,
  );
  return { cert, key };
}

export interface HostAddress {
  /** 198.18.X.Y, on an interface of this host that only this test uses. */
  address: string;
  /** The interface (`berth-t…`). */
  link: string;
  remove(): void;
}

const links = new Set<string>();
function deleteLink(name: string): void {
  try {
    execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  links.delete(name);
}

/**
 * A non-loopback IPv4 address of this host, made for one test: a port-less bridge `berth-t<hex>`
 * carrying 198.18.X.Y/32 (the benchmarking range, RFC 2544: never routed anywhere). Needs root.
 * Removed by `remove()`, and at process exit if a test forgot or died.
 */
export function hostAddress(): HostAddress {
  const b = crypto.randomBytes(3);
  const link = `berth-t${b.toString('hex')}`;
  const address = `198.18.${b[0] ?? 0}.${1 + ((b[1] ?? 0) % 253)}`;
  links.add(link);
  try {
    execFileSync('ip', ['link', 'add', link, 'type', 'bridge'], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ip', ['addr', 'add', `${address}/32`, 'dev', link], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync('ip', ['link', 'set', link, 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    deleteLink(link);
    throw err;
  }
  return { address, link, remove: () => deleteLink(link) };
}

/** Waits until GET /v2/ answers (200 or 401) or the process dies. */
async function waitForV2(url: string, child: ChildProcess, logFile: string, tls: Registry['tls'], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    try {
      const client = tls?.client;
      const r = await kitRequest(`${url}/v2/`, {
        ca: tls?.caPem,
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        timeoutMs: 2000,
      });
      if (r.status === 200 || r.status === 401) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not answer within ${timeoutMs} ms:\n${fs.readFileSync(logFile, 'utf8')}`);
}

const live = new Set<ChildProcess>();
// A test process that dies without its after hook must not leave registries behind.
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null) c.kill('SIGKILL');
  for (const l of [...links]) deleteLink(l);
});

/** Starts a registry; see the module comment. Stop it with `stop()` (useRegistry does that for you). */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-registry-'));
  const auth = opts.auth ?? 'none';
  const address = opts.address ?? '127.0.0.1';
  const hostPart = net.isIP(address) === 6 ? `[${address}]` : address;
  let tokenServer: TokenServer | undefined;
  let admin: KitCredentials | undefined;
  let tls: Registry['tls'];
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: path.join(dir, 'storage') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    health: { storagedriver: { enabled: false } },
  };
  const httpConfig: Record<string, unknown> = { secret: 'berth-registry-kit', headers: { 'X-Content-Type-Options': ['nosniff'] } };
  try {
    if (opts.tls) {
      const files = makeTlsFiles(dir, address);
      httpConfig.tls = { certificate: files.cert, key: files.key, ...(opts.clientCa ? { clientcas: [files.caPath] } : {}) };
      tls = { caPem: fs.readFileSync(files.caPath, 'utf8'), caPath: files.caPath };
      if (opts.clientCa) {
        const c = makeClientCert(dir);
        tls.client = { certPem: fs.readFileSync(c.cert, 'utf8'), keyPem: fs.readFileSync(c.key, 'utf8') };
      }
    }
    if (auth !== 'none' && 'basic' in auth) {
      const lines = auth.basic.map((u) => execFileSync('htpasswd', ['-Bbn', u.user, u.pass], { encoding: 'utf8' }).trim());
      fs.writeFileSync(path.join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
      config.auth = { htpasswd: { realm: 'berth-registry-kit', path: path.join(dir, 'htpasswd') } };
      admin = auth.basic[0];
    } else if (auth !== 'none' && 'token' in auth) {
      tokenServer = await startTokenServer(auth.token);
      fs.writeFileSync(path.join(dir, 'token-root.crt'), tokenServer.certPem);
      config.auth = {
        token: {
          realm: tokenServer.realm,
          service: tokenServer.service,
          issuer: tokenServer.issuer,
          rootcertbundle: path.join(dir, 'token-root.crt'),
        },
      };
      admin = tokenServer.admin;
    }
    Object.assign(config, opts.extraConfig ?? {});
    // Ports are picked then bound by the registry: retry when another process took it meanwhile.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const scheme = opts.tls ? 'https' : 'http';
      const url = `${scheme}://${hostPart}:${port}`;
      config.http = { ...httpConfig, addr: `${hostPart}:${port}` };
      const configPath = path.join(dir, 'config.yml');
      // YAML is a superset of JSON.
      fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
      const logFile = path.join(dir, 'registry.log');
      const logFd = fs.openSync(logFile, 'a');
      // A clean environment: distribution reads REGISTRY_* variables over its config file.
      const child = spawn(REGISTRY_BIN, ['serve', configPath], {
        stdio: ['ignore', logFd, logFd],
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      });
      fs.closeSync(logFd);
      live.add(child);
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      child.on('error', () => undefined);
      try {
        await waitForV2(url, child, logFile, tls, 20_000);
      } catch (err) {
        if (child.exitCode === null) child.kill('SIGKILL');
        await exited;
        live.delete(child);
        if (attempt < 3 && /address already in use/.test(fs.readFileSync(logFile, 'utf8'))) continue;
        throw err;
      }
      const stop = async (): Promise<void> => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        live.delete(child);
        if (tokenServer !== undefined) await tokenServer.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      };
      const reg: Registry = {
        host: `${hostPart}:${port}`,
        url,
        dir,
        pid: child.pid ?? -1,
        ...(tls !== undefined ? { tls } : {}),
        ...(tokenServer !== undefined ? { tokenServer } : {}),
        ...(admin !== undefined ? { admin } : {}),
        session: (credentials) => new KitSession(url, credentials ?? admin, tls?.caPem),
        logs: () => {
          try {
            return fs.readFileSync(logFile, 'utf8');
          } catch {
            return '';
          }
        },
        stop,
      };
      return reg;
    }
  } catch (err) {
    if (tokenServer !== undefined) await tokenServer.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Trusts the registry's CA the way dockerd reads it: `<certsDir>/<host>/ca.crt`. Returns the
 * directory written. (Berth's certs directory is what its settings name; dockerd's default is
 * /etc/docker/certs.d — never write there from a test.)
 */
export function trustRegistry(certsDir: string, reg: Pick<Registry, 'host' | 'tls'>): string {
  if (reg.tls === undefined) throw new Error(`${reg.host} is not a TLS registry`);
  const d = path.join(certsDir, reg.host);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'ca.crt'), reg.tls.caPem);
  return d;
}

/** daemon.json making `reg` (or a faulty proxy in front of it) the docker.io mirror. */
export function mirrorDaemonJson(mirror: { url: string }, extra: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ 'registry-mirrors': [mirror.url], ...extra }, null, 2)}\n`;
}

/**
 * A registry for the whole test file: started in `before`, stopped in `after`. Returns a getter
 * (the registry exists only once `before` ran).
 */
export function useRegistry(opts: RegistryOptions = {}): () => Registry {
  let reg: Registry | undefined;
  before(async () => {
    reg = await startRegistry(opts);
  });
  after(async () => {
    if (reg !== undefined) await reg.stop();
  });
  return () => {
    if (reg === undefined) throw new Error('registry not started (use it inside tests)');
    return reg;
  };
}

function usage(): never {
  process.stderr.write(
    'usage: registry-kit [--basic USER:PASS]... [--token USER:PASS]... [--public REPO]... [--tls] [--client-ca] [--address IP]\n' +
      '                    [--seed REPO:TAG]... [--seed-index REPO:TAG]... [--big REPO:TAG:LAYERS:BYTES]...\n' +
      'Starts a registry on 127.0.0.1 (or IP, an address of this host), seeds it, prints its facts as JSON and\n' +
      'serves until SIGINT/SIGTERM. (--seed needs a registry without --client-ca.)\n',
  );
  process.exit(2);
}

/** The kit as a command, for the bench and for trying things by hand. */
async function main(argv: string[]): Promise<void> {
  const basic: KitCredentials[] = [];
  const token: KitCredentials[] = [];
  const publicRepos: string[] = [];
  const seeds: { kind: 'image' | 'index' | 'big'; arg: string }[] = [];
  let tls = false;
  let clientCa = false;
  let address: string | undefined;
  const cred = (s: string | undefined): KitCredentials => {
    const i = (s ?? '').indexOf(':');
    if (s === undefined || i < 1) usage();
    return { user: s.slice(0, i), pass: s.slice(i + 1) };
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--basic') basic.push(cred(argv[++i]));
    else if (a === '--token') token.push(cred(argv[++i]));
    else if (a === '--public') publicRepos.push(argv[++i] ?? usage());
    else if (a === '--tls') tls = true;
    else if (a === '--client-ca') clientCa = true;
    else if (a === '--address') address = argv[++i] ?? usage();
    else if (a === '--seed') seeds.push({ kind: 'image', arg: argv[++i] ?? usage() });
    else if (a === '--seed-index') seeds.push({ kind: 'index', arg: argv[++i] ?? usage() });
    else if (a === '--big') seeds.push({ kind: 'big', arg: argv[++i] ?? usage() });
    else usage();
  }
  const auth: RegistryAuth = basic.length
    ? { basic }
    : token.length || publicRepos.length
      ? { token: { users: token, publicRepos } }
      : 'none';
  const reg = await startRegistry({ auth, tls, clientCa, ...(address !== undefined ? { address } : {}) });
  const seeded: Record<string, string> = {};
  for (const s of seeds) {
    const [repo, tag, layers, bytes] = s.arg.split(':');
    if (repo === undefined || tag === undefined) usage();
    if (s.kind === 'image') seeded[`${repo}:${tag}`] = (await seedBusybox(reg, repo, tag)).digest;
    else if (s.kind === 'index') seeded[`${repo}:${tag}`] = (await seedIndex(reg, repo, tag, { attestation: true })).digest;
    else
      seeded[`${repo}:${tag}`] = (
        await seedBigImage(reg, repo, tag, { layers: Number(layers ?? usage()), totalBytes: Number(bytes ?? usage()) })
      ).digest;
  }
  process.stdout.write(
    `${JSON.stringify({ host: reg.host, url: reg.url, dir: reg.dir, pid: reg.pid, caPath: reg.tls?.caPath, realm: reg.tokenServer?.realm, seeded }, null, 2)}\n`,
  );
  const stop = (): void => {
    reg.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
