import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pino from 'pino';
import { Unavailable } from '../../lib/errors';
import { Containerd, type UnaryMethod } from '../../runtime/containerd';
import type { ImagesClient } from '../../runtime/gen/github.com/containerd/containerd/api/services/images/v1/images';

const logger = pino({ level: 'silent' });

test('calls wait for an absent containerd until their deadline, then fail as Unavailable', async () => {
  const ctd = new Containerd({
    address: `/tmp/berth-absent-${randomBytes(4).toString('hex')}.sock`,
    namespace: 'berth-unit',
    logger,
  });
  try {
    const started = Date.now();
    await assert.rejects(ctd.images.list({}, { timeoutMs: 300 }), Unavailable);
    assert.ok(Date.now() - started >= 250, 'waited for the connection instead of failing fast');
    await assert.rejects(ctd.waitReady(200), /did not answer within 200 ms/);

    const abort = new AbortController();
    const pending = ctd.images.list({}, { signal: abort.signal });
    abort.abort(new Error('stopped by caller'));
    await assert.rejects(pending, /stopped by caller/);
  } finally {
    ctd.close();
  }
});

// Compile-time checks: tsc fails this file if the typed surface regresses. Never called.
export function typingChecks(ctd: Containerd): void {
  const unary: UnaryMethod<ImagesClient>[] = ['get', 'list', 'create', 'update', 'delete'];
  // @ts-expect-error base-class methods are not RPCs
  const notRpc: UnaryMethod<ImagesClient> = 'close';
  void ctd.images.get({ name: 'x' }, { lease: 'l' }).then((r) => r.image?.target?.digest);
  void ctd.call(ctd.clients.images, 'get', { name: 'x' }).then((r) => r.image?.name);
  // @ts-expect-error unknown request field
  void ctd.images.get({ nme: 'x' });
  // @ts-expect-error server streams are not promisified
  void ctd.content.read;
  // @ts-expect-error bidi streams are not promisified
  void ctd.content.write;
  ctd.serverStream(ctd.clients.events, 'subscribe', { filters: ['namespace==x'] });
  // @ts-expect-error unary calls are not server streams
  ctd.serverStream(ctd.clients.content, 'info', {});
  void [unary, notRpc];
}
