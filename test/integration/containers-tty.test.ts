// An interactive terminal through the real docker CLI, driven from a real pty (node-pty): `docker
// run -it` a shell, type a command and read its output, resize the terminal and see `stty size`
// follow, detach with ctrl-p ctrl-q (the container keeps running), attach again, and exit.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as pty from 'node-pty';
import { Kit } from './container-kit';
import { DOCKER } from './harness';

let k: Kit;
const terminals = new Set<pty.IPty>();

before(async () => {
  k = await Kit.start();
});

after(async () => {
  for (const t of terminals) t.kill('SIGKILL');
  if (k) await k.destroy();
});

/** The docker CLI in a pseudo-terminal, with what it printed so far and its exit. */
class Terminal {
  private readonly p: pty.IPty;
  output = '';
  readonly exited: Promise<number>;

  constructor(args: string[], cols = 80, rows = 24) {
    this.p = pty.spawn(DOCKER, args, {
      cols,
      rows,
      env: {
        ...process.env,
        DOCKER_HOST: `unix://${k.b.socket}`,
        DOCKER_CONFIG: path.join(k.b.dir, 'docker-config'),
        DOCKER_CLI_HINTS: 'false',
      },
    });
    terminals.add(this.p);
    this.p.onData((d) => (this.output += d));
    this.exited = new Promise((resolve) =>
      this.p.onExit(({ exitCode }) => {
        terminals.delete(this.p);
        resolve(exitCode);
      }),
    );
  }

  type(text: string): void {
    this.p.write(text);
  }

  resize(cols: number, rows: number): void {
    this.p.resize(cols, rows);
  }

  /** Waits until the output after `from` matches; returns the index after the match. */
  async expect(re: RegExp, from = 0, ms = 10_000): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = re.exec(this.output.slice(from));
      if (m) return from + m.index + m[0].length;
      if (Date.now() > deadline) assert.fail(`terminal output never matched ${re}:\n${JSON.stringify(this.output)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function exitWithin(t: Terminal, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the CLI did not exit within ${ms} ms:\n${JSON.stringify(t.output)}`)), ms);
  });
  try {
    return await Promise.race([t.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('docker run -it: type, resize, detach with ctrl-p ctrl-q, attach again, exit', async () => {
  const run = new Terminal(['run', '-it', '--name', 'tty1', 'busybox', 'sh']);
  let at = await run.expect(/\/ # /);
  run.type('echo $((6*7))\r');
  at = await run.expect(/\r\n42\r\n/, at);
  run.type('stty size\r');
  at = await run.expect(/\r\n24 80\r\n/, at);
  run.resize(120, 40);
  // The resize reaches the container's terminal asynchronously: ask until it shows.
  for (let i = 0; ; i++) {
    run.type('stty size\r');
    try {
      at = await run.expect(/\r\n40 120\r\n/, at, 1000);
      break;
    } catch (err) {
      if (i === 5) throw err;
    }
  }
  // A TTY carries stdout and stderr as one stream.
  run.type('echo to-stderr >&2\r');
  at = await run.expect(/\r\nto-stderr\r\n/, at);

  // Detach: the CLI exits 0, the container and its shell keep running.
  run.type('\x10\x11');
  assert.equal(await exitWithin(run, 10_000), 0);
  const detached = await k.inspect('tty1');
  assert.equal(detached.State.Status, 'running');
  assert.equal(detached.Config.Tty, true);
  assert.equal(detached.Config.OpenStdin, true);

  // Attach again: the same shell answers, then exits with its own code.
  const again = new Terminal(['attach', 'tty1'], 100, 30);
  again.type('\r');
  let pos = await again.expect(/\/ # /);
  again.type('echo again$((1+1)); stty size\r');
  pos = await again.expect(/\r\nagain2\r\n30 100\r\n/, pos);
  again.type('exit 7\r');
  assert.equal(await exitWithin(again, 10_000), 7);
  const done = await k.inspect('tty1');
  assert.equal(done.State.Status, 'exited');
  assert.equal(done.State.ExitCode, 7);
  // The TTY session's output went to the log as one stream.
  assert.match(await k.ok(['logs', 'tty1']), /again2/);
  await k.ok(['rm', 'tty1']);
});

test('docker run -it --rm: exit ends the CLI with the code and removes the container', async () => {
  const run = new Terminal(['run', '-it', '--rm', '--name', 'tty2', 'busybox', 'sh']);
  await run.expect(/\/ # /);
  run.type('exit 3\r');
  assert.equal(await exitWithin(run, 10_000), 3);
  await k.until('tty2 to be removed', async () => (await k.docker(['container', 'inspect', 'tty2'])).code !== 0);
});

test('--detach-keys: a custom sequence detaches, and ctrl-p ctrl-q is then ordinary input', async () => {
  const run = new Terminal(['run', '-it', '--detach-keys', 'ctrl-x,x', '--name', 'tty3', 'busybox', 'sh']);
  let at = await run.expect(/\/ # /);
  run.type('\x10\x11echo still-here\r');
  at = await run.expect(/still-here\r\n/, at);
  run.type('\x18x');
  assert.equal(await exitWithin(run, 10_000), 0);
  assert.equal((await k.inspect('tty3')).State.Status, 'running');
  await k.ok(['rm', '-f', 'tty3']);
});
