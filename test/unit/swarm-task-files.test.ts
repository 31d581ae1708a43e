// A task's secrets and configs as files: targets as dockerd places them, the reference checks
// with swarmkit's texts, files written exclusively with the reference's mode and owner, a
// symlink planted in the way not followed, cleanup.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  fileTargetPath,
  removeTaskFiles,
  taskFileInputs,
  validateFileRefs,
  writeTaskFiles,
  type TaskFileInput,
} from '../../daemon/swarm/agent/task-files';

function tmpRoot(t: { after: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'swarm-files-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'tasks');
}

const secret = (over: Partial<TaskFileInput> = {}): TaskFileInput => ({
  kind: 'secret',
  id: 'sec000000000000000000001',
  name: 'db-pass',
  file: { Name: 'db-pass', UID: '0', GID: '0', Mode: 0o444 },
  data: Buffer.from('hunter2'),
  ...over,
});

test('targets: secrets under /run/secrets, configs under /, absolute names kept', () => {
  assert.equal(fileTargetPath('secret', 'pw'), '/run/secrets/pw');
  assert.equal(fileTargetPath('secret', 'sub/pw'), '/run/secrets/sub/pw');
  assert.equal(fileTargetPath('secret', '/etc/app/pw'), '/etc/app/pw');
  assert.equal(fileTargetPath('config', 'app.conf'), '/app.conf');
  assert.equal(fileTargetPath('config', '/etc/nginx/nginx.conf'), '/etc/nginx/nginx.conf');
});

test('reference checks: swarmkit texts, conflicting targets, escaping relative targets', () => {
  assert.throws(
    () => validateFileRefs('secret', [{ id: '', name: 'x', file: { Name: 'x' } }]),
    /^InvalidParameter: malformed secret reference$/,
  );
  assert.throws(() => validateFileRefs('config', [{ id: 'a', name: 'x' }]), /malformed config reference, no target provided/);
  assert.throws(
    () => validateFileRefs('secret', [{ id: 'a', name: 'x', file: { Name: '' } }]),
    /malformed file secret reference, invalid target file name provided/,
  );
  assert.throws(
    () =>
      validateFileRefs('secret', [
        { id: 'a', name: 'one', file: { Name: 't' } },
        { id: 'b', name: 'two', file: { Name: 't' } },
      ]),
    /secret references 'one' and 'two' have a conflicting target: 't'/,
  );
  assert.throws(
    () => validateFileRefs('secret', [{ id: 'a', name: 'x', file: { Name: '../../etc/shadow' } }]),
    /cannot leave \/run\/secrets/,
  );
  assert.throws(() => validateFileRefs('config', [{ id: 'a', name: 'x', file: { Name: '/' } }]), /invalid config target/);
  validateFileRefs('config', [
    { id: 'a', name: 'x', file: { Name: '/etc/x' } },
    { id: 'a', name: 'x', file: { Name: '/etc/y' } },
  ]);
});

test('files are written with the mode and owner of the reference, and removed with the task', async (t) => {
  const root = tmpRoot(t);
  const mounts = await writeTaskFiles(root, 'task0000000000000000000001', [
    secret({ file: { Name: 'db-pass', UID: '123', GID: '456', Mode: 0o400 } }),
    {
      kind: 'config',
      id: 'cfg000000000000000000001',
      name: 'app',
      file: { Name: '/etc/app.conf', Mode: 0o644 },
      data: Buffer.from('a=1\n'),
    },
    { kind: 'config', id: 'cfg000000000000000000001', name: 'app', file: { Name: '/etc/app2.conf' }, data: Buffer.from('a=1\n') },
  ]);
  assert.deepEqual(
    mounts.map((m) => [m.kind, m.target, path.relative(root, m.source)]),
    [
      ['secret', '/run/secrets/db-pass', 'task0000000000000000000001/secrets/sec000000000000000000001'],
      ['config', '/etc/app.conf', 'task0000000000000000000001/configs/cfg000000000000000000001'],
      ['config', '/etc/app2.conf', 'task0000000000000000000001/configs/cfg000000000000000000001.1'],
    ],
  );
  const st = fs.statSync(mounts[0].source);
  assert.equal(st.mode & 0o7777, 0o400);
  if (process.getuid?.() === 0) {
    assert.equal(st.uid, 123);
    assert.equal(st.gid, 456);
  }
  assert.equal(fs.readFileSync(mounts[0].source, 'utf8'), 'hunter2');
  assert.equal(fs.statSync(mounts[2].source).mode & 0o7777, 0o444, 'the default mode is 0444');
  assert.equal(fs.statSync(path.join(root, 'task0000000000000000000001')).mode & 0o777, 0o700);
  await removeTaskFiles(root, 'task0000000000000000000001');
  assert.equal(fs.existsSync(path.join(root, 'task0000000000000000000001')), false);
  await removeTaskFiles(root, 'task0000000000000000000001');
});

test('a leftover directory of the task (a symlink planted in it) is replaced without writing through the link', async (t) => {
  const root = tmpRoot(t);
  const dir = path.join(root, 'task0000000000000000000002', 'secrets');
  fs.mkdirSync(dir, { recursive: true });
  const victim = path.join(path.dirname(root), 'victim');
  fs.writeFileSync(victim, 'keep');
  fs.symlinkSync(victim, path.join(dir, 'sec000000000000000000001'));
  const mounts = await writeTaskFiles(root, 'task0000000000000000000002', [secret()]);
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep');
  assert.equal(fs.lstatSync(mounts[0].source).isFile(), true);
});

test('bad IDs, owners and targets are refused and leave nothing behind', async (t) => {
  const root = tmpRoot(t);
  await assert.rejects(writeTaskFiles(root, '../x', [secret()]), /invalid task ID/);
  await assert.rejects(writeTaskFiles(root, 'task3', [secret({ id: '../../x' })]), /invalid secret ID/);
  assert.equal(fs.existsSync(path.join(root, 'task3')), false);
  await assert.rejects(writeTaskFiles(root, 'task4', [secret({ file: { Name: 'x', UID: 'root' } })]), /invalid uid "root"/);
  assert.equal(fs.existsSync(path.join(root, 'task4')), false);
  await assert.rejects(writeTaskFiles(root, 'task5', [secret({ file: { Name: 'a/../../b' } })]), /cannot leave/);
});

test("a ContainerSpec's references with their payloads; a missing object is dockerd's store error", () => {
  const payloads: Record<string, Buffer> = { 'secret/s1': Buffer.from('pw'), 'config/c1': Buffer.from('conf') };
  const inputs = taskFileInputs(
    {
      Secrets: [{ SecretID: 's1', SecretName: 'db', File: { Name: 'db', Mode: 0o400 } }],
      Configs: [
        { ConfigID: 'c1', ConfigName: 'app', File: { Name: '/app.conf' } },
        { ConfigID: 'c2', ConfigName: 'cred' },
      ],
    },
    (kind, id) => payloads[`${kind}/${id}`],
  );
  assert.deepEqual(
    inputs.map((i) => [i.kind, i.id, i.name, i.file.Name, i.data.toString()]),
    [
      ['secret', 's1', 'db', 'db', 'pw'],
      ['config', 'c1', 'app', '/app.conf', 'conf'],
    ],
  );
  assert.throws(
    () => taskFileInputs({ Secrets: [{ SecretID: 'gone', SecretName: 'x', File: { Name: 'x' } }] }, () => undefined),
    /unable to get secret from secret store: secret gone not found/,
  );
});
