// Secret and config specs as swarmkit's controlapi checks them (texts as dockerd forwards them),
// the labels-only update, and the inspect views (secret data never shown, config data base64).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Conflict, InvalidParameter, NotFound } from '../../lib/errors';
import {
  alreadyExists,
  checkLabelsOnlyUpdate,
  configView,
  decodeSpecData,
  inUse,
  MAX_SECRET_SIZE,
  notFound,
  secretView,
  validateConfigSpec,
  validateObjectName,
  validateSecretSpec,
  type StoredObject,
} from '../../daemon/swarm/secret-config';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const RPC = 'rpc error: code = InvalidArgument desc = ';

function invalid(re: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof InvalidParameter && e.message === RPC + re;
}

test('names: required, 64 characters of [a-zA-Z0-9-_.], alphanumeric at both ends', () => {
  const text = 'invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]';
  assert.throws(() => validateObjectName(''), invalid('name must be provided'));
  assert.throws(() => validateObjectName(undefined), invalid('name must be provided'));
  for (const bad of ['-a', 'a-', 'a b', 'a/b', '.a', 'x'.repeat(65), 'é']) assert.throws(() => validateObjectName(bad), invalid(text), bad);
  for (const ok of ['a', 'A9', 'db_pass.v-1', 'x'.repeat(64)]) validateObjectName(ok);
});

test('payloads: more than 0 and less than 500 KiB, base64 as Go decodes it', () => {
  assert.deepEqual(validateSecretSpec({ Name: 'pw', Data: b64('hunter2') }), Buffer.from('hunter2'));
  assert.throws(
    () => validateSecretSpec({ Name: 'pw' }),
    invalid(`secret data must be larger than 0 and less than ${MAX_SECRET_SIZE} bytes`),
  );
  assert.throws(
    () => validateSecretSpec({ Name: 'pw', Data: b64(Buffer.alloc(MAX_SECRET_SIZE)) }),
    invalid('secret data must be larger than 0 and less than 512000 bytes'),
  );
  assert.equal(validateSecretSpec({ Name: 'pw', Data: b64(Buffer.alloc(MAX_SECRET_SIZE - 1)) }).length, MAX_SECRET_SIZE - 1);
  assert.throws(() => validateConfigSpec({ Name: 'c', Data: '' }), invalid('config data must be larger than 0 and less than 512000 bytes'));
  assert.deepEqual(validateConfigSpec({ Name: 'c', Data: b64('x=1') }), Buffer.from('x=1'));
  assert.throws(() => decodeSpecData('a$bc'), /illegal base64 data at input byte 1/);
  assert.throws(() => decodeSpecData('abc'), /illegal base64 data at input byte 0/);
  assert.throws(() => decodeSpecData('ab=c'), /illegal base64 data at input byte 2/);
  assert.deepEqual(decodeSpecData('YQ=='), Buffer.from('a'));
});

test('drivers and templating are refused clearly (400)', () => {
  assert.throws(
    () => validateSecretSpec({ Name: 'pw', Data: b64('x'), Driver: { Name: 'vault' } }),
    (e: unknown) => e instanceof InvalidParameter && /secret drivers \("vault"\) are not supported by Berth's swarm mode/.test(e.message),
  );
  assert.throws(() => validateConfigSpec({ Name: 'c', Data: b64('x'), Templating: { Name: 'golang' } }), InvalidParameter);
  validateSecretSpec({ Name: 'pw', Data: b64('x'), Driver: { Name: '' } });
});

const stored: StoredObject = {
  ID: 'sec000000000000000000001',
  Version: { Index: 12 },
  CreatedAt: '2026-01-01T00:00:00Z',
  UpdatedAt: '2026-01-01T00:00:00Z',
  Spec: { Name: 'pw', Labels: { a: '1' } },
  Sealed: 'v1.sealed',
};

test('updates change labels only', () => {
  const cur = Buffer.from('hunter2');
  assert.deepEqual(checkLabelsOnlyUpdate(stored, cur, { Name: 'pw', Labels: { b: '2' } }), { Name: 'pw', Labels: { b: '2' } });
  assert.deepEqual(checkLabelsOnlyUpdate(stored, cur, { Name: 'pw', Data: b64('hunter2') }).Labels, {});
  const only = invalid('only updates to Labels are allowed');
  assert.throws(() => checkLabelsOnlyUpdate(stored, cur, { Name: 'other' }), only);
  assert.throws(() => checkLabelsOnlyUpdate(stored, cur, { Name: 'pw', Data: b64('changed') }), only);
});

test('views: a secret without data, a config with its data in base64', () => {
  const s = secretView(stored);
  assert.deepEqual(s, {
    ID: stored.ID,
    Version: { Index: 12 },
    CreatedAt: stored.CreatedAt,
    UpdatedAt: stored.UpdatedAt,
    Spec: { Name: 'pw', Labels: { a: '1' } },
  });
  assert.ok(!JSON.stringify(s).includes('sealed'));
  const c = configView({ ...stored, Spec: { Name: 'c' } }, Buffer.from('x=1'));
  assert.equal(c.Spec?.Data, b64('x=1'));
  assert.deepEqual(c.Spec?.Labels, {});
});

test('conflict, not found and in-use texts', () => {
  const e = alreadyExists('secret', 'pw');
  assert.ok(e instanceof Conflict);
  assert.equal(e.message, 'rpc error: code = AlreadyExists desc = secret pw already exists');
  const nf = notFound('config', 'nope');
  assert.ok(nf instanceof NotFound);
  assert.equal(nf.message, 'config nope not found');
  assert.equal(inUse('secret', 'pw', ['web']).message, `${RPC}secret 'pw' is in use by the following service: web`);
  assert.equal(inUse('secret', 'pw', ['web', 'db']).message, `${RPC}secret 'pw' is in use by the following services: web, db`);
});
