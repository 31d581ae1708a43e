// Node's TLS failures in Go's words: the mapping table, and the real errors Node raises against
// in-process servers (a self-signed https one and a plain http one spoken to over https).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { goTlsErrorText } from '../../registry/tls-errors';
import { Transport } from '../../registry/transport';
import { RegistryError } from '../../registry/types';
import { json, startFake, type FakeServer } from './registry-fake';

const VERIFY = 'tls: failed to verify certificate: ';
const err = (code: string, extra: Record<string, unknown> = {}): Error => Object.assign(new Error(`node says ${code}`), { code, ...extra });

test("verification failures: Go's x509 texts behind crypto/tls's prefix", () => {
  for (const code of [
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  ]) {
    assert.equal(goTlsErrorText(err(code), 'h'), `${VERIFY}x509: certificate signed by unknown authority`);
  }
  assert.equal(goTlsErrorText(err('CERT_HAS_EXPIRED'), 'h'), `${VERIFY}x509: certificate has expired or is not yet valid`);
  assert.equal(goTlsErrorText(err('CERT_NOT_YET_VALID'), 'h'), `${VERIFY}x509: certificate has expired or is not yet valid`);
});

test("name mismatches: x509.HostnameError's cases", () => {
  const alt = (subjectaltname: string | undefined, host: string, cn?: string): string | undefined =>
    goTlsErrorText(
      err('ERR_TLS_CERT_ALTNAME_INVALID', {
        host,
        cert: { ...(subjectaltname !== undefined ? { subjectaltname } : {}), subject: { CN: cn } },
      }),
      'ignored',
    );
  assert.equal(
    alt('IP Address:127.0.0.1, DNS:localhost', '198.18.0.1'),
    `${VERIFY}x509: certificate is valid for 127.0.0.1, not 198.18.0.1`,
  );
  assert.equal(
    alt('IP Address:10.0.0.1, IP Address:10.0.0.2', '198.18.0.1'),
    `${VERIFY}x509: certificate is valid for 10.0.0.1, 10.0.0.2, not 198.18.0.1`,
  );
  assert.equal(
    alt('DNS:localhost', '198.18.0.1'),
    `${VERIFY}x509: cannot validate certificate for 198.18.0.1 because it doesn't contain any IP SANs`,
  );
  assert.equal(
    alt('DNS:a.example, DNS:b.example', 'reg.example'),
    `${VERIFY}x509: certificate is valid for a.example, b.example, not reg.example`,
  );
  assert.equal(
    alt('IP Address:127.0.0.1', 'reg.example'),
    `${VERIFY}x509: certificate is not valid for any names, but wanted to match reg.example`,
  );
  assert.equal(
    alt(undefined, 'reg.example', 'reg.example'),
    `${VERIFY}x509: certificate relies on legacy Common Name field, use SANs instead`,
  );
  assert.equal(alt('IP Address:::1', '[::2]'), `${VERIFY}x509: certificate is valid for ::1, not ::2`);
});

test('a non-TLS answer, alerts, and errors that are not TLS ones', () => {
  assert.equal(goTlsErrorText(err('ERR_SSL_WRONG_VERSION_NUMBER'), 'h'), 'http: server gave HTTP response to HTTPS client');
  assert.equal(goTlsErrorText(err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), 'h'), 'remote error: tls: certificate required');
  assert.equal(goTlsErrorText(err('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE'), 'h'), 'remote error: tls: bad certificate');
  assert.equal(goTlsErrorText(err('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA'), 'h'), 'remote error: tls: unknown certificate authority');
  const eproto = (reason: string): Error =>
    Object.assign(
      new Error(`write EPROTO 80EC:error:0A00010B:SSL routines:ssl3_get_record:${reason}:../deps/openssl/ssl/record/ssl3_record.c:350:\n`),
      { code: 'EPROTO' },
    );
  assert.equal(goTlsErrorText(eproto('wrong version number'), 'h'), 'http: server gave HTTP response to HTTPS client');
  assert.equal(goTlsErrorText(eproto('tlsv13 alert certificate required'), 'h'), 'remote error: tls: certificate required');
  assert.equal(goTlsErrorText(eproto('tlsv1 alert unknown ca'), 'h'), 'remote error: tls: unknown certificate authority');
  assert.equal(goTlsErrorText(eproto('something else'), 'h'), undefined);
  assert.equal(goTlsErrorText(err('ECONNREFUSED'), 'h'), undefined);
  assert.equal(goTlsErrorText(new Error('plain'), 'h'), undefined);
});

let dir = '';
let tlsServer: FakeServer;
/** A plain-http server as Go's answers a ClientHello: a 400 status line, then close. */
let plainServer: net.Server;
let plainPort = 0;
let certPem = '';

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'berth-tls-errors-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'k.pem',
      '-out',
      'c.pem',
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  certPem = readFileSync(path.join(dir, 'c.pem'), 'utf8');
  const handler = (_req: unknown, res: Parameters<typeof json>[0]): void => json(res, 200, {});
  tlsServer = await startFake(handler, {
    tls: { cert: readFileSync(path.join(dir, 'c.pem')), key: readFileSync(path.join(dir, 'k.pem')) },
  });
  plainServer = net.createServer((sock) => {
    sock.on('error', () => undefined);
    sock.once('data', () =>
      sock.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request'),
    );
  });
  await new Promise<void>((resolve) => plainServer.listen(0, '127.0.0.1', resolve));
  plainPort = (plainServer.address() as net.AddressInfo).port;
});

after(async () => {
  await tlsServer.close();
  await new Promise((resolve) => plainServer.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function failure(url: string, tls: { skipVerify: boolean; ca?: Buffer[] }): Promise<string> {
  const t = new Transport({ url: new URL(url).origin, mirror: false, tls }, { userAgent: 'ua' });
  try {
    await t.request({ method: 'GET', url });
  } catch (e) {
    assert.ok(e instanceof RegistryError && e.transport, String(e));
    return e.message;
  } finally {
    t.close();
  }
  throw new Error(`${url} answered`);
}

test('real Node errors: an unknown CA, a name the certificate does not hold, plain http', async () => {
  const tlsUrl = `https://127.0.0.1:${tlsServer.port}/v2/`;
  assert.equal(await failure(tlsUrl, { skipVerify: false }), `Get "${tlsUrl}": ${VERIFY}x509: certificate signed by unknown authority`);
  const byName = `https://localhost:${tlsServer.port}/v2/`;
  assert.equal(
    await failure(byName, { skipVerify: false, ca: [Buffer.from(certPem)] }),
    `Get "${byName}": ${VERIFY}x509: certificate is not valid for any names, but wanted to match localhost`,
  );
  const plainUrl = `https://127.0.0.1:${plainPort}/v2/`;
  assert.equal(await failure(plainUrl, { skipVerify: true }), `Get "${plainUrl}": http: server gave HTTP response to HTTPS client`);
});
