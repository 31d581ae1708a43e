// Join tokens in dockerd's format and its parse errors, the cluster key wrapped per role token,
// secret/config payloads sealed with the object ID bound.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  clusterDigest,
  generateClusterKey,
  generateJoinToken,
  issueToken,
  openData,
  parseJoinToken,
  revealToken,
  sealData,
  tokenMatches,
  tokenSecretHash,
  unlockClusterKey,
  unwrapClusterKey,
  wrapClusterKey,
} from '../../daemon/swarm/seal';

const DIGEST = createHash('sha256').update('ca').digest('hex');

test('a token is SWMTKN-1-<50 base36 digest>-<25 base36 secret> and parses back to its digest', () => {
  const token = generateJoinToken(DIGEST);
  assert.match(token, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  const p = parseJoinToken(token);
  assert.equal(p.digestHex, DIGEST);
  assert.equal(p.version, 1);
  assert.equal(p.fips, false);
  assert.equal(p.secret, token.split('-')[3]);
  assert.notEqual(generateJoinToken(DIGEST), token, 'a fresh secret each time');
});

test('base36 and padding as Go big.Int Text(36) with %0*s: known vector', () => {
  const zeros = (n: number): Buffer => Buffer.alloc(n);
  const t = generateJoinToken('0'.repeat(63) + '1', zeros);
  assert.equal(t, `SWMTKN-1-${'0'.repeat(49)}1-${'0'.repeat(25)}`);
  const ones = generateJoinToken('f'.repeat(64), (n) => Buffer.alloc(n, 0xff));
  // 2^256-1 and 2^128-1 in base 36.
  assert.equal(ones.split('-')[2], (2n ** 256n - 1n).toString(36).padStart(50, '0'));
  assert.equal(ones.split('-')[3], (2n ** 128n - 1n).toString(36));
  assert.equal(ones.split('-')[3].length, 25);
});

test('anything else is "invalid join token"', () => {
  const good = generateJoinToken(DIGEST);
  const [, , d, s] = good.split('-');
  for (const bad of [
    '',
    'SWMTKN',
    `SWMTKN-1-${d}`,
    `SWMTKN-3-${d}-${s}`,
    `XWMTKN-1-${d}-${s}`,
    `SWMTKN-1-${d}x-${s}`,
    `SWMTKN-1-${d}-${s}x`,
    `SWMTKN-1-${d.toUpperCase()}-${s}`,
    `SWMTKN-1-${'z'.repeat(50)}-${s}`,
    `SWMTKN-2-7-${d}-${s}`,
  ]) {
    assert.throws(() => parseJoinToken(bad), /^InvalidParameter: invalid join token$/, bad);
  }
  assert.equal(parseJoinToken(`SWMTKN-2-1-${d}-${s}`).fips, true);
});

test('the cluster digest names the cluster', () => {
  assert.match(clusterDigest('abc'), /^[0-9a-f]{64}$/);
  assert.notEqual(clusterDigest('abc'), clusterDigest('abd'));
  assert.equal(parseJoinToken(generateJoinToken(clusterDigest('abc'))).digestHex, clusterDigest('abc'));
});

test('stored token hashes match their token only', () => {
  const a = generateJoinToken(DIGEST);
  const b = generateJoinToken(DIGEST);
  assert.equal(tokenSecretHash(a), createHash('sha256').update(a.split('-')[3]).digest('hex'));
  assert.equal(tokenMatches(a, tokenSecretHash(a)), true);
  assert.equal(tokenMatches(b, tokenSecretHash(a)), false);
  assert.equal(tokenMatches(a, 'short'), false);
});

test('the cluster key unwraps with its role token only', () => {
  const key = generateClusterKey();
  assert.equal(key.length, 32);
  const worker = generateJoinToken(DIGEST);
  const manager = generateJoinToken(DIGEST);
  const wrapped = wrapClusterKey(key, worker, 'worker');
  assert.ok(!wrapped.includes(key.toString('base64')));
  assert.deepEqual(unwrapClusterKey(wrapped, worker, 'worker'), key);
  assert.equal(unwrapClusterKey(wrapped, manager, 'worker'), null);
  assert.equal(unwrapClusterKey(wrapped, worker, 'manager'), null, 'a worker wrap is not a manager wrap');
  const tampered = wrapped.slice(0, -4) + (wrapped.endsWith('AAA=') ? 'BBB=' : 'AAA=');
  assert.equal(unwrapClusterKey(tampered, worker, 'worker'), null);
  assert.equal(unwrapClusterKey('garbage', worker, 'worker'), null);
  assert.throws(() => wrapClusterKey(Buffer.alloc(16), worker, 'worker'), /32 bytes/);
});

test('sealed data opens with the cluster key and the same object ID only', () => {
  const key = generateClusterKey();
  const data = Buffer.from('s3cr3t\x00binary\xff');
  const sealed = sealData(key, 'obj1', data);
  assert.ok(!sealed.includes(data.toString('base64')));
  assert.notEqual(sealData(key, 'obj1', data), sealed, 'a random nonce per seal');
  assert.deepEqual(openData(key, 'obj1', sealed), data);
  assert.throws(() => openData(key, 'obj2', sealed), /cannot be opened/);
  assert.throws(() => openData(generateClusterKey(), 'obj1', sealed), /cannot be opened/);
  const raw = Buffer.from(sealed.slice(3), 'base64');
  raw[14] ^= 1;
  assert.throws(() => openData(key, 'obj1', `v1.${raw.toString('base64')}`), /cannot be opened/);
  assert.throws(() => openData(key, 'obj1', `v9.${sealed.slice(3)}`), /cannot be opened/);
  assert.deepEqual(openData(key, 'e', sealData(key, 'e', Buffer.alloc(0))), Buffer.alloc(0));
});

test('issued tokens: the record unlocks the key for its token and role only; managers can reveal the token', () => {
  const key = generateClusterKey();
  const { token, record } = issueToken('c1', 'worker', key);
  assert.match(token, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
  assert.equal(parseJoinToken(token).digestHex, clusterDigest('c1'));
  assert.ok(!JSON.stringify(record).includes(token.split('-')[3]), 'the secret is not stored in clear');
  assert.deepEqual(unlockClusterKey(token, 'worker', record), key);
  assert.equal(unlockClusterKey(token, 'manager', record), null, 'role bound');
  const other = issueToken('c1', 'worker', key);
  assert.equal(unlockClusterKey(other.token, 'worker', record), null, 'a rotated-away token no longer unlocks');
  assert.equal(revealToken('c1', 'worker', key, record), token);
  assert.equal(revealToken('c1', 'manager', key, record), '', 'role bound');
  assert.equal(revealToken('c1', 'worker', generateClusterKey(), record), '');
});
