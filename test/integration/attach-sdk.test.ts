// Attach as the SDKs drive it: dockerode hijacks `POST /containers/{id}/attach` with its options
// as a JSON body (with a Content-Length) on the upgrade request itself, before the container is
// started, then starts it and writes stdin. The body is not stdin; what follows the upgrade is.
// And AutoRemove as the SDKs wait on it: `wait?condition=removed` asked before the start.
import assert from 'node:assert/strict';
import type { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { Kit } from './container-kit';

let k: Kit;
let docker: Docker;

before(async () => {
  k = await Kit.start();
  docker = new Docker({ socketPath: k.b.socket });
});

after(async () => {
  if (k) await k.destroy();
});

/** Attaches before start, starts, feeds `input` (then `finish`), and collects output until wait returns. */
async function attachedRun(opts: {
  cmd: string[];
  tty: boolean;
  input: string;
  finish: (s: Duplex) => void;
}): Promise<{ out: Buffer; code: number }> {
  const c = await docker.createContainer({
    Image: 'busybox',
    Cmd: opts.cmd,
    Tty: opts.tty,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  try {
    const stream = (await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as Duplex;
    const chunks: Buffer[] = [];
    stream.on('data', (b: Buffer) => chunks.push(b));
    const ended = new Promise<void>((resolve) => stream.once('end', resolve));
    await c.start();
    stream.write(opts.input);
    opts.finish(stream);
    const res = (await c.wait()) as { StatusCode: number };
    // The output is all there once the stream ends, which dockerd does right after the exit.
    await ended;
    return { out: Buffer.concat(chunks), code: res.StatusCode };
  } finally {
    await c.remove({ force: true });
  }
}

/** The payload of a multiplexed stream (8-byte frame headers dropped). */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  for (let i = 0; i + 8 <= buf.length;) {
    const len = buf.readUInt32BE(i + 4);
    const payload = buf.subarray(i + 8, i + 8 + len).toString();
    if (buf[i] === 2) stderr += payload;
    else stdout += payload;
    i += 8 + len;
  }
  return { stdout, stderr };
}

test('without a TTY: stdin written after the upgrade reaches the process, and a half-close ends it', { timeout: 30_000 }, async () => {
  const r = await attachedRun({ cmd: ['sh', '-c', 'wc -c; echo err >&2'], tty: false, input: 'x'.repeat(1000), finish: (s) => s.end() });
  assert.equal(r.code, 0);
  assert.deepEqual(demux(r.out), { stdout: '1000\n', stderr: 'err\n' });
});

test('without a TTY: a shell runs the commands it is sent', { timeout: 30_000 }, async () => {
  const r = await attachedRun({ cmd: ['sh'], tty: false, input: 'echo hello-$((1+2))\nexit 3\n', finish: () => undefined });
  assert.equal(r.code, 3);
  assert.equal(demux(r.out).stdout, 'hello-3\n');
});

test('with a TTY: the output is raw, and ctrl-d after a newline ends the input', { timeout: 30_000 }, async () => {
  const r = await attachedRun({ cmd: ['cat'], tty: true, input: 'typed line\n', finish: (s) => s.write('\x04') });
  assert.equal(r.code, 0);
  // The terminal echoes the line and cat writes it back.
  assert.equal(r.out.toString(), 'typed line\r\ntyped line\r\n');
});

test(
  'AutoRemove through dockerode: the removed wait ends with the exit code once the container is gone; its name is free at once',
  { timeout: 30_000 },
  async () => {
    const name = 'sdk-autoremove';
    const c = await docker.createContainer({ name, Image: 'busybox', Cmd: ['sh', '-c', 'exit 7'], HostConfig: { AutoRemove: true } });
    const waited = c.wait({ condition: 'removed' }) as Promise<{ StatusCode: number }>;
    await c.start();
    assert.equal((await waited).StatusCode, 7);
    await assert.rejects(c.inspect(), (err: { statusCode?: number; json?: { message?: string } }) => {
      assert.equal(err.statusCode, 404);
      assert.equal(err.json?.message, `No such container: ${c.id}`);
      return true;
    });
    const again = await docker.createContainer({ name, Image: 'busybox', Cmd: ['true'] });
    await again.remove();
    // Its containerd side (task, record, snapshot, cgroup) is deleted behind the removal.
    await k.autoRemoved(c.id);
  },
);
