import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { InvalidParameter } from '../../lib/errors';
import { lookupUser, readContainerFile, resolveInLayers, resolveUser } from '../../runtime/user';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
app:x:1000:1000::/home/app:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
`;
const GROUP = `root:x:0:
wheel:x:10:root,app
# a comment
audio:x:29:app
app:x:1000:
docker:x:999:
nogroup:x:65534:
`;

const tmp = mkdtempSync(join(tmpdir(), 'berth-user-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A layer dir holding the given files; a value of null makes a whiteout (char 0/0). */
function layer(files: Record<string, string | null | { symlink: string }>): string {
  const dir = join(tmp, `layer${n++}`);
  mkdirSync(dir);
  for (const [p, content] of Object.entries(files)) {
    const full = join(dir, p);
    mkdirSync(dirname(full), { recursive: true });
    if (content === null) execFileSync('mknod', [full, 'c', '0', '0']);
    else if (typeof content === 'object') symlinkSync(content.symlink, full);
    else writeFileSync(full, content);
  }
  return dir;
}

/** The synchronous form of rejects (a void result, so no promise to await). */
function throwsInvalid(fn: () => unknown, message: string): void {
  void rejects(fn, message);
}

function rejects(p: Promise<unknown> | (() => unknown), message: string): Promise<void> | void {
  const check = (err: unknown): boolean => {
    assert.ok(err instanceof InvalidParameter, String(err));
    assert.equal(err.message, message);
    return true;
  };
  if (typeof p === 'function') assert.throws(p, check);
  else return assert.rejects(p, check);
}

test('lookup: empty user is root with its groups', () => {
  assert.deepEqual(lookupUser('', [], PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [0, 10] });
  assert.deepEqual(lookupUser('', [], undefined, undefined), { uid: 0, gid: 0, additionalGids: [0] });
});

test('lookup: names, numbers, user:group', () => {
  assert.deepEqual(lookupUser('app', [], PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] });
  assert.deepEqual(lookupUser('1000', [], PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] });
  assert.deepEqual(lookupUser('nobody', [], PASSWD, GROUP), { uid: 65534, gid: 65534, additionalGids: [65534] });
  // An explicit group replaces the primary one and drops the memberships.
  assert.deepEqual(lookupUser('app:audio', [], PASSWD, GROUP), { uid: 1000, gid: 29, additionalGids: [29] });
  assert.deepEqual(lookupUser('app:4242', [], PASSWD, GROUP), { uid: 1000, gid: 4242, additionalGids: [4242] });
  // Unknown numeric ids are fine; the gid then defaults to 0.
  assert.deepEqual(lookupUser('4000', [], PASSWD, GROUP), { uid: 4000, gid: 0, additionalGids: [0] });
  assert.deepEqual(lookupUser('4000:4001', [], PASSWD, GROUP), { uid: 4000, gid: 4001, additionalGids: [4001] });
  assert.deepEqual(lookupUser('4000', [], undefined, undefined), { uid: 4000, gid: 0, additionalGids: [0] });
});

test('lookup: errors in dockerd words', () => {
  throwsInvalid(() => lookupUser('foo', [], PASSWD, GROUP), 'unable to find user foo: no matching entries in passwd file');
  throwsInvalid(() => lookupUser('foo', [], undefined, GROUP), 'unable to find user foo: no matching entries in passwd file');
  throwsInvalid(() => lookupUser('app:bar', [], PASSWD, GROUP), 'unable to find group bar: no matching entries in group file');
  throwsInvalid(() => lookupUser('', ['bar'], PASSWD, GROUP), 'unable to find group bar: no matching entries in group file');
  throwsInvalid(() => lookupUser('2147483648', [], PASSWD, GROUP), 'uids and gids must be in range 0-2147483647');
});

test('lookup: GroupAdd by name or number, deduplicated', () => {
  assert.deepEqual(lookupUser('app', ['docker', '29', '5000'], PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    additionalGids: [1000, 10, 29, 999, 5000],
  });
  assert.deepEqual(lookupUser('4000', ['5000'], undefined, undefined), { uid: 4000, gid: 0, additionalGids: [0, 5000] });
});

test('files are read from the top-most layer that has them', async () => {
  const lower = layer({ 'etc/passwd': PASSWD, 'etc/group': GROUP });
  const upper = layer({ 'etc/passwd': 'root:x:0:0::/root:/bin/sh\nonly:x:7:7::/:/bin/sh\n' });
  assert.deepEqual(await resolveUser([upper, lower], 'only'), { uid: 7, gid: 7, additionalGids: [7] });
  await rejects(resolveUser([upper, lower], 'app'), 'unable to find user app: no matching entries in passwd file');
  // The group file still comes from the lower layer.
  assert.deepEqual(await resolveUser([upper, lower], 'only', ['wheel']), { uid: 7, gid: 7, additionalGids: [7, 10] });
  assert.deepEqual(await resolveUser([lower], 'app'), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] });
});

test('whiteouts hide lower files and directories', async () => {
  const lower = layer({ 'etc/passwd': PASSWD, 'etc/group': GROUP });
  const fileGone = layer({ 'etc/passwd': null });
  assert.equal(await readContainerFile([fileGone, lower], '/etc/passwd'), undefined);
  await rejects(resolveUser([fileGone, lower], 'app'), 'unable to find user app: no matching entries in passwd file');
  const dirGone = layer({ etc: null });
  assert.equal(await readContainerFile([dirGone, lower], '/etc/group'), undefined);
  // A file where lower layers have a directory hides it too.
  const fileOverDir = layer({ etc: 'not a dir' });
  assert.equal(await readContainerFile([fileOverDir, lower], '/etc/passwd'), undefined);
});

test('symlinks resolve inside the container root, never outside', async () => {
  const outside = join(tmp, 'host-passwd');
  writeFileSync(outside, 'evil:x:0:0::/:/bin/sh\n');
  const lower = layer({
    'usr/lib/passwd': PASSWD,
    'etc/passwd': { symlink: '/usr/lib/passwd' },
    'etc/group': { symlink: '../usr/lib/nope' },
  });
  assert.equal(await resolveInLayers([lower], '/etc/passwd'), join(lower, 'usr/lib/passwd'));
  assert.deepEqual(await resolveUser([lower], 'app'), { uid: 1000, gid: 1000, additionalGids: [1000] });

  const escape = layer({ 'etc/passwd': { symlink: outside }, 'etc/group': { symlink: '../../../../../../../../etc/group' } });
  assert.equal(await readContainerFile([escape], '/etc/passwd'), undefined, 'an absolute target is inside the container root');
  await rejects(resolveUser([escape], 'evil'), 'unable to find user evil: no matching entries in passwd file');
  assert.equal(await readContainerFile([escape], '/etc/group'), undefined, '.. stops at the container root');

  // A symlinked directory in the upper layer, pointing into a lower one.
  const a = layer({ 'data/passwd': PASSWD });
  const b = layer({ etc: { symlink: 'data' } });
  assert.equal(await resolveInLayers([b, a], '/etc/passwd'), join(a, 'data/passwd'));

  const loop = layer({ 'etc/passwd': { symlink: '/etc/passwd' } });
  assert.equal(await readContainerFile([loop], '/etc/passwd'), undefined);
  // A directory is not a passwd file.
  const dir = layer({ 'etc/passwd/x': 'y' });
  assert.equal(await readContainerFile([dir], '/etc/passwd'), undefined);
});
