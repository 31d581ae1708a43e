import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { authFromObject, registryAuth } from '../../api/registry-auth';
import { InvalidParameter } from '../../lib/errors';

const req = (header?: string): FastifyRequest =>
  ({ headers: header === undefined ? {} : { 'x-registry-auth': header } }) as unknown as FastifyRequest;
// '?' and '>' make base64 and base64url differ ('/' vs '_', '+' vs '-').
const cfg = { username: 'u?>', password: 'p?>?', serveraddress: 'reg:5000' };

test('X-Registry-Auth in either base64 alphabet, with or without padding', () => {
  const json = JSON.stringify(cfg);
  for (const enc of [Buffer.from(json).toString('base64'), Buffer.from(json).toString('base64url')]) {
    assert.deepEqual(registryAuth(req(enc), { strict: true }), {
      credentials: { username: 'u?>', password: 'p?>?' },
      serverAddress: 'reg:5000',
    });
  }
});

test('an undecodable header is anonymous for pull and a 400 for strict callers; a wrong JSON type names what was sent', () => {
  assert.deepEqual(registryAuth(req('!!!'), { strict: false }), { credentials: {}, serverAddress: '' });
  assert.throws(() => registryAuth(req('!!!'), { strict: true }), InvalidParameter);
  assert.throws(() => authFromObject([1], 'request body'), /invalid request body: cannot unmarshal array/);
});

test('the config-file form ("auth": base64 user:pass) fills in a missing pair; tokens pass through', () => {
  const r = authFromObject({ auth: Buffer.from('alice:pa:ss').toString('base64'), identitytoken: 'idt', registrytoken: 'rt' });
  assert.deepEqual(r.credentials, { username: 'alice', password: 'pa:ss', identityToken: 'idt', registryToken: 'rt' });
});
