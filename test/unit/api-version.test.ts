import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import { API_VERSION, MIN_API_VERSION, compareVersions, negotiateVersion, parseVersionPrefix } from '../../api/version';

test('parseVersionPrefix strips /vX.Y and keeps the query string', () => {
  assert.deepEqual(parseVersionPrefix('/v1.41/containers/json?all=1'), { version: '1.41', path: '/containers/json?all=1' });
  assert.deepEqual(parseVersionPrefix('/v1.53/_ping'), { version: '1.53', path: '/_ping' });
  assert.deepEqual(parseVersionPrefix('/_ping'), { version: undefined, path: '/_ping' });
  // dockerd's matcher is [0-9.]+ followed by a path: anything else is not a prefix.
  assert.deepEqual(parseVersionPrefix('/v1.x/_ping'), { version: undefined, path: '/v1.x/_ping' });
  assert.deepEqual(parseVersionPrefix('/v1.41'), { version: undefined, path: '/v1.41' });
  assert.deepEqual(parseVersionPrefix('/volumes/v1.2/x'), { version: undefined, path: '/volumes/v1.2/x' });
  assert.deepEqual(parseVersionPrefix('/v1.41/'), { version: '1.41', path: '/' });
  // a '?' inside the prefix position belongs to the query, not the version
  assert.deepEqual(parseVersionPrefix('/v1.41?x=/a'), { version: undefined, path: '/v1.41?x=/a' });
});

test('compareVersions compares numerically, part by part', () => {
  assert.equal(compareVersions('1.24', '1.5'), 1);
  assert.equal(compareVersions('1.5', '1.24'), -1);
  assert.equal(compareVersions('1.40', '1.40'), 0);
  assert.equal(compareVersions('1.40.0', '1.40'), 0);
  assert.equal(compareVersions('2', '1.99'), 1);
  assert.equal(compareVersions('1.a', '1.0'), 0);
});

test('negotiateVersion: default, bounds and dockerd wording', () => {
  assert.equal(negotiateVersion(undefined), API_VERSION);
  assert.equal(negotiateVersion('1.24'), '1.24');
  assert.equal(negotiateVersion(API_VERSION), API_VERSION);
  assert.equal(MIN_API_VERSION, '1.24');
  assert.throws(
    () => negotiateVersion('1.12'),
    (e: unknown) =>
      e instanceof InvalidParameter &&
      e.message === 'client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
  );
  assert.throws(
    () => negotiateVersion('1.99'),
    (e: unknown) => e instanceof InvalidParameter && e.message === 'client version 1.99 is too new. Maximum supported API version is 1.53',
  );
});
