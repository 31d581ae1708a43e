// FIFO plumbing without containerd: the test plays the shim's side of each FIFO.

import assert from 'node:assert/strict';
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidParameter } from '../../lib/errors';
import { createTaskIO, taskIOPaths } from '../../runtime/fifo';

async function readAll(stream: Readable): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

async function isFifo(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFIFO();
  } catch {
    return false;
  }
}

/** The shim's writer: opened only once our reader exists (it would block otherwise). */
function shimWrite(path: string, data: string): void {
  const fd = openSync(path, constants.O_WRONLY);
  writeSync(fd, data);
  closeSync(fd);
}

test('task IO paths: names, terminal drops stderr, bad names refused', () => {
  assert.deepEqual(taskIOPaths('/run/x/fifo/c1', { stdin: true, terminal: false }), {
    stdin: '/run/x/fifo/c1/init-stdin',
    stdout: '/run/x/fifo/c1/init-stdout',
    stderr: '/run/x/fifo/c1/init-stderr',
  });
  assert.deepEqual(taskIOPaths('/run/x/fifo/c1', { stdin: false, terminal: true, name: 'e1' }), {
    stdout: '/run/x/fifo/c1/e1-stdout',
  });
  assert.throws(() => taskIOPaths('/d', { stdin: false, terminal: false, name: '../x' }), InvalidParameter);
  assert.throws(() => taskIOPaths('/d', { stdin: false, terminal: false, name: '' }), InvalidParameter);
});

test('createTaskIO: data, EOF, stdin, cleanup', async () => {
  const root = await mkdtemp('/tmp/berth-fifo-');
  try {
    const dir = join(root, 'c1');
    const io = await createTaskIO(dir, { stdin: true, terminal: false });
    for (const p of [io.paths.stdin, io.paths.stdout, io.paths.stderr]) {
      assert.ok(p && (await isFifo(p)), `${p} is a FIFO`);
      assert.equal((await stat(p)).mode & 0o777, 0o600);
    }
    assert.equal((await stat(dir)).mode & 0o777, 0o700);

    // No spurious EOF while no writer has connected yet.
    let ended = false;
    io.stdout.once('end', () => (ended = true));
    const out = readAll(io.stdout);
    const err = readAll(io.stderr as Readable);
    await sleep(50);
    assert.equal(ended, false);

    shimWrite(io.paths.stdout, 'hello\n');
    shimWrite(io.paths.stderr as string, 'oops\n');
    assert.equal(await out, 'hello\n');
    assert.equal(await err, 'oops\n');
    await io.drained;

    // stdin: the "shim" reads what we write.
    const rfd = openSync(io.paths.stdin as string, constants.O_RDONLY | constants.O_NONBLOCK);
    const reader = new Socket({ fd: rfd, readable: true, writable: false });
    const got = readAll(reader);
    io.stdin?.write('typed\n');
    await io.endStdin();
    assert.ok(io.stdin?.destroyed);
    // We were the only writer here (the shim keeps one more, which CloseIO closes).
    assert.equal(await got, 'typed\n');
    await io.endStdin();

    // A sibling process's FIFOs keep the directory; ours go.
    const exec = await createTaskIO(dir, { stdin: false, terminal: true, name: 'exec1' });
    assert.equal(exec.stderr, undefined);
    assert.equal(exec.paths.stderr, undefined);
    await io.close();
    await io.close();
    assert.deepEqual((await readdir(dir)).sort(), ['exec1-stdout']);
    assert.ok(io.stdout.destroyed && io.stdin?.destroyed);
    await exec.close();
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('createTaskIO replaces FIFOs left by a crashed run', async () => {
  const root = await mkdtemp('/tmp/berth-fifo-');
  try {
    const dir = join(root, 'c2');
    const first = await createTaskIO(dir, { stdin: false, terminal: false });
    // Simulate a crash: fds gone, files left.
    first.stdout.destroy();
    first.stderr?.destroy();
    const second = await createTaskIO(dir, { stdin: false, terminal: false });
    const out = readAll(second.stdout);
    shimWrite(second.paths.stdout, 'again');
    shimWrite(second.paths.stderr as string, '');
    assert.equal(await out, 'again');
    await second.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
