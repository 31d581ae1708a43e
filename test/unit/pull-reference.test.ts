// How POST /images/create combines fromImage and tag for a pull (moby's PullImage), and the
// registry's refusals in dockerd's words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter, NotFound, SystemError } from '../../lib/errors';
import { pullError } from '../../daemon/images/pull-errors';
import { isNameOnly, pullReference } from '../../daemon/images/pull';
import { canonicalString } from '../../daemon/images/reference';
import { RegistryError } from '../../registry/types';

const D = `sha256:${'a'.repeat(64)}`;

test('fromImage and tag combine as dockerd does', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'latest', 'docker.io/library/busybox:latest'],
    ['busybox', '1.36', 'docker.io/library/busybox:1.36'],
    ['busybox:1.36', '', 'docker.io/library/busybox:1.36'],
    // The tag parameter wins over a tag in fromImage.
    ['busybox:1.36', 'musl', 'docker.io/library/busybox:musl'],
    // A digest in the tag parameter replaces any tag.
    ['busybox:1.36', D, `docker.io/library/busybox@${D}`],
    [`busybox@${D}`, '', `docker.io/library/busybox@${D}`],
    ['127.0.0.1:5000/team/app', 'v1', '127.0.0.1:5000/team/app:v1'],
    // "pull -a" may send a trailing colon.
    ['busybox:', 'latest', 'docker.io/library/busybox:latest'],
  ];
  for (const [fromImage, tag, want] of cases) assert.equal(canonicalString(pullReference(fromImage, tag)), want, `${fromImage} + ${tag}`);
});

test('bad references are 400s; all tags is refused clearly', () => {
  assert.throws(() => pullReference('Busybox', 'latest'), InvalidParameter);
  assert.throws(
    () => pullReference('busybox', 'bad tag'),
    (e: unknown) => e instanceof InvalidParameter && e.message === 'invalid tag format',
  );
  assert.ok(isNameOnly(pullReference('busybox', '')));
  assert.ok(isNameOnly(pullReference('busybox:', '')));
});

test("registry refusals in dockerd's words", () => {
  const tagged = pullReference('busybox', 'nope');
  const manifest = pullError(new RegistryError('manifest unknown', 404, 'MANIFEST_UNKNOWN'), tagged, true);
  assert.ok(manifest instanceof NotFound);
  assert.equal(manifest.message, 'manifest for busybox:nope not found: manifest unknown: manifest unknown');

  const denied = pullError(
    new RegistryError('requested access to the resource is denied', 401, 'DENIED'),
    pullReference('private/app', 'latest'),
    false,
  );
  assert.ok(denied instanceof NotFound);
  assert.equal(
    denied.message,
    "pull access denied for private/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
  );
  // Anonymous and unauthorized: what Docker Hub users see for a missing or private repository.
  const anon = pullError(
    new RegistryError('authentication required', 401, 'UNAUTHORIZED'),
    pullReference('127.0.0.1:5000/x', 'latest'),
    true,
  );
  assert.match(anon.message, /^pull access denied for 127\.0\.0\.1:5000\/x, repository does not exist/);

  const name = pullError(new RegistryError('repository name not known to registry', 404, 'NAME_UNKNOWN'), tagged, true);
  assert.equal(name.message, 'repository busybox not found: name unknown: repository name not known to registry');

  // With credentials a 401 is the registry's word, not "not found".
  const badCreds = pullError(new RegistryError('authentication required', 401, 'UNAUTHORIZED'), tagged, false);
  assert.ok(badCreds instanceof SystemError);
  assert.equal(badCreds.message, 'unauthorized: authentication required');

  const unreachable = pullError(new RegistryError('Get "https://x/v2/": connection refused', 0, undefined, true), tagged, true);
  assert.ok(unreachable instanceof SystemError);
  assert.equal(unreachable.message, 'Get "https://x/v2/": connection refused');
});
