import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import {
  canonicalString,
  familiarMatch,
  familiarName,
  familiarString,
  fullName,
  idPrefixHex,
  imageLookup,
  isFullImageId,
  looksLikeIdPrefix,
  noSuchImageMessage,
  parseAnyReference,
  parseDigest,
  parseDockerRef,
  parseNormalizedNamed,
  parseReference,
  pathMatch,
  tagNameOnly,
} from '../../daemon/images/reference';

const HEX = 'e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582';
const D = `sha256:${HEX}`;

function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidParameter, `expected InvalidParameter, got ${String(err)}`);
    assert.equal(err.message, message);
    return true;
  });
}

// [input, canonical string, familiar string, domain, path, tag, digest]
const normalized: [string, string, string, string, string, string?, string?][] = [
  ['busybox', 'docker.io/library/busybox', 'busybox', 'docker.io', 'library/busybox'],
  ['busybox:latest', 'docker.io/library/busybox:latest', 'busybox:latest', 'docker.io', 'library/busybox', 'latest'],
  ['library/busybox', 'docker.io/library/busybox', 'busybox', 'docker.io', 'library/busybox'],
  ['docker.io/busybox', 'docker.io/library/busybox', 'busybox', 'docker.io', 'library/busybox'],
  ['index.docker.io/busybox:1', 'docker.io/library/busybox:1', 'busybox:1', 'docker.io', 'library/busybox', '1'],
  ['docker.io/library/busybox', 'docker.io/library/busybox', 'busybox', 'docker.io', 'library/busybox'],
  ['user/app:v1', 'docker.io/user/app:v1', 'user/app:v1', 'docker.io', 'user/app', 'v1'],
  ['a/b/c', 'docker.io/a/b/c', 'a/b/c', 'docker.io', 'a/b/c'],
  ['library/a/b', 'docker.io/library/a/b', 'library/a/b', 'docker.io', 'library/a/b'],
  ['localhost/x', 'localhost/x', 'localhost/x', 'localhost', 'x'],
  ['localhost:5000/a/b:t', 'localhost:5000/a/b:t', 'localhost:5000/a/b:t', 'localhost:5000', 'a/b', 't'],
  ['127.0.0.1:5000/debian', '127.0.0.1:5000/debian', '127.0.0.1:5000/debian', '127.0.0.1:5000', 'debian'],
  ['[::1]:5000/repo:tag', '[::1]:5000/repo:tag', '[::1]:5000/repo:tag', '[::1]:5000', 'repo', 'tag'],
  ['Docker.io/x', 'Docker.io/x', 'Docker.io/x', 'Docker.io', 'x'],
  ['LOCALDOMAIN/debian', 'LOCALDOMAIN/debian', 'LOCALDOMAIN/debian', 'LOCALDOMAIN', 'debian'],
  [
    'example.com:8000/private/moonbase',
    'example.com:8000/private/moonbase',
    'example.com:8000/private/moonbase',
    'example.com:8000',
    'private/moonbase',
  ],
  [`busybox@${D}`, `docker.io/library/busybox@${D}`, `busybox@${D}`, 'docker.io', 'library/busybox', undefined, D],
  [`busybox:1.36@${D}`, `docker.io/library/busybox:1.36@${D}`, `busybox:1.36@${D}`, 'docker.io', 'library/busybox', '1.36', D],
  ['lowercase:Uppercase', 'docker.io/library/lowercase:Uppercase', 'lowercase:Uppercase', 'docker.io', 'library/lowercase', 'Uppercase'],
  ['dock__er/do-c--k.er', 'docker.io/dock__er/do-c--k.er', 'dock__er/do-c--k.er', 'docker.io', 'dock__er/do-c--k.er'],
  [`docker.io/${'1a'.repeat(32)}`, `docker.io/library/${'1a'.repeat(32)}`, '1a'.repeat(32), 'docker.io', `library/${'1a'.repeat(32)}`],
  // "test.com:5000" has no slash, so it is the image "test.com" tagged "5000", not a registry.
  ['test.com:5000', 'docker.io/library/test.com:5000', 'test.com:5000', 'docker.io', 'library/test.com', '5000'],
  ['sha256:abc', 'docker.io/library/sha256:abc', 'sha256:abc', 'docker.io', 'library/sha256', 'abc'],
  [`a:${'t'.repeat(128)}`, `docker.io/library/a:${'t'.repeat(128)}`, `a:${'t'.repeat(128)}`, 'docker.io', 'library/a', 't'.repeat(128)],
];

test('parseNormalizedNamed normalises like distribution/reference', () => {
  for (const [input, canonical, familiar, domain, path, tag, digest] of normalized) {
    const n = parseNormalizedNamed(input);
    assert.equal(canonicalString(n), canonical, input);
    assert.equal(familiarString(n), familiar, input);
    assert.equal(n.domain, domain, input);
    assert.equal(n.path, path, input);
    assert.equal(n.tag, tag, input);
    assert.equal(n.digest, digest, input);
    // The canonical form parses back to the same reference.
    assert.deepEqual(parseNormalizedNamed(canonical), n, input);
  }
});

test('invalid references fail with dockerd messages', () => {
  const cases: [string, string][] = [
    ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['docker/Docker', 'invalid reference format: repository name (docker/Docker) must be lowercase'],
    ['localhost:5000/Foo:tag', 'invalid reference format: repository name (Foo) must be lowercase'],
    [HEX, `invalid repository name (${HEX}), cannot specify 64-byte hexadecimal strings`],
    ['', 'invalid reference format'],
    ['busybox:', 'invalid reference format'],
    [':tag', 'invalid reference format'],
    ['-docker', 'invalid reference format'],
    ['docker-/docker', 'invalid reference format'],
    ['docker///docker', 'invalid reference format'],
    ['dock..er/docker', 'invalid reference format'],
    ['docker/', 'invalid reference format'],
    ['____/____', 'invalid reference format'],
    ['https://github.com/docker/docker', 'invalid reference format'],
    ['aa/asdf$$^/aa', 'invalid reference format'],
    ['[fe80::1%eth0]:5000/debian', 'invalid reference format'],
    ['[fc00::1]:5000', 'invalid reference format'],
    ['fc00::1:5000/debian', 'invalid reference format'],
    ['busybox:-tag', 'invalid reference format'],
    [`busybox:${'t'.repeat(129)}`, 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    ['busybox@sha256:' + 'f'.repeat(34), 'invalid checksum digest length'],
    ['busybox@sha256:' + 'F'.repeat(64), 'invalid checksum digest format'],
    ['busybox@md5:' + 'f'.repeat(32), 'unsupported digest algorithm'],
    ['busybox@sha512:' + 'f'.repeat(64), 'invalid checksum digest length'],
    [`x/${'a'.repeat(256)}`, 'repository name must not be more than 255 characters'],
    // "library/" counts towards the limit.
    ['a'.repeat(250), 'repository name must not be more than 255 characters'],
  ];
  for (const [input, message] of cases) invalid(() => parseNormalizedNamed(input), message);
  // The uppercase part of a namespace-less name is caught by the raw parser.
  invalid(() => parseReference('test:5000/Uppercase/lowercase:tag'), 'repository name must be lowercase');
  invalid(() => parseReference(''), 'repository name must have at least one component');
});

test('valid names at the limits', () => {
  assert.equal(parseNormalizedNamed(`example.com/${'a'.repeat(255)}:tag`).path.length, 255);
  assert.equal(parseNormalizedNamed('a'.repeat(247)).path.length, 255);
  assert.equal(parseNormalizedNamed(`busybox@sha512:${'f'.repeat(128)}`).digest, `sha512:${'f'.repeat(128)}`);
  // A 64-character name that is not hex is fine.
  assert.equal(familiarName(parseNormalizedNamed('thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev')).length, 64);
});

test('parseDockerRef adds latest and prefers the digest', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:latest', 'docker.io/library/busybox:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['gcr.io/library/busybox', 'gcr.io/library/busybox:latest'],
    [`gcr.io/library/busybox:latest@${D}`, `gcr.io/library/busybox@${D}`],
    ['localhost:5000/a/b', 'localhost:5000/a/b:latest'],
  ];
  for (const [input, expected] of cases) {
    const ref = parseDockerRef(input);
    assert.equal(canonicalString(ref), expected, input);
    assert.deepEqual(parseReference(expected), ref);
  }
});

test('familiar forms', () => {
  const n = parseNormalizedNamed('docker.io/library/redis:7');
  assert.equal(familiarName(n), 'redis');
  assert.equal(familiarString(n), 'redis:7');
  assert.equal(fullName(n), 'docker.io/library/redis');
  assert.equal(familiarString(tagNameOnly(parseNormalizedNamed('redis'))), 'redis:latest');
  assert.equal(familiarString(tagNameOnly(parseNormalizedNamed(`redis@${D}`))), `redis@${D}`);
  assert.equal(familiarName(parseNormalizedNamed('docker.io/dmcgowan/myapp')), 'dmcgowan/myapp');
  assert.equal(familiarName(parseNormalizedNamed('quay.io/library/x')), 'quay.io/library/x');
});

test('familiarMatch: reference= filter semantics', () => {
  const cases: [string, string, boolean][] = [
    ['foo', 'foo/**/ba[rz]', false],
    ['foo/any/bat', 'foo/**/ba[rz]', false],
    ['foo/a/bar', 'foo/**/ba[rz]', true],
    ['foo/c/baz:tag', 'foo/**/ba[rz]', true],
    ['foo/c/baz:tag', 'foo/*/baz:tag', true],
    ['example.com/foo/c/baz:tag', '*/foo/c/baz', true],
    ['example.com/foo/c/baz:tag', 'example.com/foo/c/baz', true],
    ['busybox:latest', 'busybox', true],
    ['busybox:latest', 'busybox:*', true],
    ['busybox:latest', 'busy*', true],
    ['busybox:latest', 'b?sybox:latest', true],
    ['busybox:latest', 'docker.io/library/busybox', true],
    ['busybox:latest', 'docker.io/library/busybox:latest', true],
    ['busybox', '*:latest', false],
    ['busybox:latest', '*:latest', true],
    ['busybox:1', 'busybox:[0-9]', true],
    ['busybox:a', 'busybox:[^0-9]', true],
    ['busybox:a', 'busybox:[0-9]', false],
    ['user/app:1', '*', false],
    ['user/app:1', '*/*', true],
    ['busybox:latest', 'alpine', false],
  ];
  for (const [ref, pattern, expected] of cases) {
    assert.equal(familiarMatch(pattern, parseNormalizedNamed(ref)), expected, `${ref} ~ ${pattern}`);
  }
  invalid(() => familiarMatch('[-x]', parseNormalizedNamed('foo')), 'syntax error in pattern');
  invalid(() => familiarMatch('zzz[', parseNormalizedNamed('foo')), 'syntax error in pattern');
});

test('pathMatch follows Go path.Match', () => {
  const cases: [string, string, boolean | 'err'][] = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', 'x', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[\\-x]', 'x', true],
    ['[]a]', ']', 'err'],
    ['[-]', '-', 'err'],
    ['[x-]', 'x', 'err'],
    ['[-x]', 'x', 'err'],
    ['\\', 'a', 'err'],
    ['[a-b-c]', 'a', 'err'],
    ['[', 'a', 'err'],
    ['[^', 'a', 'err'],
    ['[^bc', 'a', 'err'],
    ['a[', 'a', 'err'],
    ['a[', 'ab', 'err'],
    ['a[', 'x', 'err'],
    ['a/b[', 'x', 'err'],
    ['*x', 'xxx', true],
  ];
  for (const [pattern, name, expected] of cases) {
    if (expected === 'err') invalid(() => pathMatch(pattern, name), 'syntax error in pattern');
    else assert.equal(pathMatch(pattern, name), expected, `${pattern} ~ ${name}`);
  }
});

test('parseAnyReference tells IDs from names', () => {
  assert.deepEqual(parseAnyReference(HEX), { kind: 'id', id: D });
  assert.deepEqual(parseAnyReference(D), { kind: 'id', id: D });
  const short = parseAnyReference('sha256:abc');
  assert.equal(short.kind, 'named');
  const named = parseAnyReference('busybox');
  assert.ok(named.kind === 'named' && canonicalString(named.named) === 'docker.io/library/busybox');
  invalid(() => parseAnyReference('Busybox'), 'invalid reference format: repository name (library/Busybox) must be lowercase');
});

test('image ID helpers', () => {
  assert.equal(isFullImageId(D), true);
  assert.equal(isFullImageId(HEX), true);
  assert.equal(isFullImageId(HEX.toUpperCase()), false);
  assert.equal(isFullImageId(HEX.slice(1)), false);
  assert.equal(isFullImageId(`sha512:${HEX}`), false);
  for (const s of ['e', 'e669', `sha256:e669`, HEX, D]) assert.equal(looksLikeIdPrefix(s), true, s);
  for (const s of ['', 'sha256:', 'E669', 'busybox', 'e669:latest', 'x/e669', `${HEX}0`]) assert.equal(looksLikeIdPrefix(s), false, s);
  assert.equal(idPrefixHex('sha256:e669'), 'e669');
  assert.equal(idPrefixHex('e669'), 'e669');
});

test('imageLookup encodes the order dockerd resolves a name or ID in', () => {
  assert.deepEqual(imageLookup(HEX), { kind: 'id', id: D, notFound: `No such image: ${D}` });
  assert.deepEqual(imageLookup(D), { kind: 'id', id: D, notFound: `No such image: ${D}` });
  const byName = imageLookup('busybox');
  assert.equal(byName.kind, 'ref');
  assert.ok(byName.kind === 'ref');
  assert.equal(canonicalString(byName.ref), 'docker.io/library/busybox:latest');
  assert.equal(byName.idPrefix, undefined);
  assert.equal(byName.notFound, 'No such image: busybox:latest');
  // "abc" is both a possible name and a possible ID prefix: name first, then prefix.
  const both = imageLookup('abc');
  assert.ok(both.kind === 'ref');
  assert.equal(canonicalString(both.ref), 'docker.io/library/abc:latest');
  assert.equal(both.idPrefix, 'abc');
  const shortId = imageLookup('sha256:abc');
  assert.ok(shortId.kind === 'ref');
  assert.equal(shortId.idPrefix, 'abc');
  assert.equal(shortId.notFound, 'No such image: sha256:abc');
  const digested = imageLookup(`busybox:1@${D}`);
  assert.ok(digested.kind === 'ref');
  assert.equal(canonicalString(digested.ref), `docker.io/library/busybox@${D}`);
  assert.equal(digested.notFound, `No such image: busybox:1@${D}`);
  invalid(() => imageLookup('Busybox'), 'invalid reference format: repository name (library/Busybox) must be lowercase');
  assert.equal(noSuchImageMessage('user/app'), 'No such image: user/app:latest');
});

test('digests are validated like go-digest', () => {
  assert.equal(parseDigest(D), D);
  invalid(() => parseDigest('sha256'), 'invalid checksum digest format');
  invalid(() => parseDigest('sha256:'), 'invalid checksum digest format');
  invalid(() => parseDigest(':abc'), 'invalid checksum digest format');
  invalid(() => parseDigest('sha256:abc'), 'invalid checksum digest length');
  invalid(() => parseDigest('foo:abc'), 'unsupported digest algorithm');
  invalid(() => parseDigest('Foo:abc'), 'invalid checksum digest format');
});

test('pathological input does not backtrack for long', () => {
  const inputs = [
    'a'.repeat(50000) + '!',
    'a-'.repeat(20000) + '!',
    'a.'.repeat(20000) + ':',
    'a/'.repeat(20000) + 'A',
    'a:'.repeat(20000),
    '0'.repeat(30000) + '.' + '-'.repeat(30000),
  ];
  for (const input of inputs) {
    const start = process.hrtime.bigint();
    assert.throws(() => parseNormalizedNamed(input));
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    assert.ok(ms < 1000, `${input.slice(0, 10)}… took ${ms} ms`);
  }
});
