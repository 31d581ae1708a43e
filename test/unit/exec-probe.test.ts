// The exec behind a healthcheck probe (daemon/exec/probe.ts) against a fake exec service and
// runtime: moby's cmdProbe exec settings, its exec_create/exec_start/exec_die events, the record
// registered while it runs and dropped after, output read to the end but kept to the cap, a kill
// aimed at the exec, and an `exited` that settles whatever the runtime does.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import type { Container } from '../../daemon/containers/model';
import { ExecProbeRunner } from '../../daemon/exec/probe';
import type { ExecRecord, ExecService } from '../../daemon/exec/service';
import type { TaskIO } from '../../runtime/fifo';

const CID = 'c'.repeat(64);

function container(): Container {
  return {
    record: { id: CID, name: 'web', config: { Image: 'busybox', User: 'nobody', WorkingDir: '/srv', Env: ['A=1'], Labels: { l: 'v' } } },
    state: { running: true },
  } as unknown as Container;
}

interface Fake {
  svc: ExecService;
  events: string[];
  records: Map<string, ExecRecord>;
  launched: ExecRecord[];
  kills: Array<[string, number, string | undefined]>;
  deleted: string[];
  io: { stdout: PassThrough; stderr: PassThrough; closed: boolean };
  exit(code: number): void;
  failWait(): void;
}

function fake(opts: { launchFails?: Error } = {}): Fake {
  const events: string[] = [];
  const records = new Map<string, ExecRecord>();
  const launched: ExecRecord[] = [];
  const kills: Array<[string, number, string | undefined]> = [];
  const deleted: string[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const ioState = { stdout, stderr, closed: false };
  let settle!: (r: { exitStatus: number } | Error) => void;
  const waited = new Promise<{ exitStatus: number } | Error>((resolve) => (settle = resolve));
  const ended = (s: PassThrough): Promise<void> => new Promise((resolve) => s.on('end', resolve));
  const io: TaskIO = {
    stdout,
    stderr,
    paths: { stdout: '/x/out', stderr: '/x/err' },
    drained: Promise.all([ended(stdout), ended(stderr)]).then(() => undefined),
    endStdin: () => Promise.resolve(),
    close: () => {
      ioState.closed = true;
      return Promise.resolve();
    },
    detach: () => undefined,
  };
  const svc = {
    addRecord: (rec: ExecRecord) => records.set(rec.id, rec),
    dropRecord: (rec: ExecRecord) => records.delete(rec.id),
    publish: (_c: Container, action: string, extra: Record<string, string>) => events.push(`${action} ${JSON.stringify(extra)}`),
    commandLine: (rec: ExecRecord) => `${rec.entrypoint} ${rec.args.join(' ')}`,
    launch: (rec: ExecRecord) => {
      launched.push({ ...rec });
      return opts.launchFails ? Promise.reject(opts.launchFails) : Promise.resolve({ pid: 4242, io });
    },
    runtime: {
      waitTaskAndIO: async () => {
        const r = await waited;
        if (r instanceof Error) throw r;
        return { ...r, ioDrained: true };
      },
      deleteProcess: (_id: string, execId: string) => {
        deleted.push(execId);
        return Promise.resolve();
      },
      kill: (id: string, sig: number, o: { execId?: string }) => {
        kills.push([id, sig, o.execId]);
        return Promise.resolve();
      },
    },
    logger: { debug: () => undefined, warn: () => undefined },
  } as unknown as ExecService;
  return {
    svc,
    events,
    records,
    launched,
    kills,
    deleted,
    io: ioState,
    exit: (code) => {
      stdout.end();
      stderr.end();
      settle({ exitStatus: code });
    },
    failWait: () => settle(new Error('task gone')),
  };
}

test("runs as moby's cmdProbe: the container's user, workdir and env, no TTY, no stdin, not privileged; its events and record", async () => {
  const f = fake();
  const probe = await new ExecProbeRunner(f.svc).start(container(), ['/bin/sh', '-c', 'check']);
  const rec = f.launched[0];
  assert.deepEqual(
    [rec.entrypoint, rec.args, rec.user, rec.workingDir, rec.tty, rec.openStdin, rec.privileged, rec.containerId],
    ['/bin/sh', ['-c', 'check'], 'nobody', '/srv', false, false, false, CID],
  );
  assert.ok(rec.env.includes('A=1'));
  assert.ok(rec.env.some((e) => e.startsWith('PATH=')));
  // Registered (ExecIDs, exec inspect) while it runs.
  assert.equal(f.records.size, 1);
  const id = rec.id;
  f.io.stdout.write('out ');
  f.io.stderr.write('err');
  f.exit(1);
  assert.equal(await probe.exited, 1);
  assert.equal(probe.output(), 'out err');
  assert.deepEqual(f.events, [
    `exec_create: /bin/sh -c check ${JSON.stringify({ execID: id })}`,
    `exec_start: /bin/sh -c check ${JSON.stringify({ execID: id })}`,
    `exec_die ${JSON.stringify({ execID: id, exitCode: '1' })}`,
  ]);
  assert.equal(f.records.size, 0, 'dropped once exited');
  assert.deepEqual(f.deleted, [id]);
  assert.equal(f.io.closed, true);
  // A kill after the exit sends nothing.
  probe.kill();
  assert.deepEqual(f.kills, []);
});

test('a flood of output is read to the end but only 4096 bytes are kept', async () => {
  const f = fake();
  const probe = await new ExecProbeRunner(f.svc).start(container(), ['yes']);
  const chunk = Buffer.alloc(64 * 1024, 'y');
  for (let i = 0; i < 64; i++) f.io.stdout.write(chunk); // 4 MiB
  f.exit(0);
  assert.equal(await probe.exited, 0);
  assert.equal(probe.output(), `${'y'.repeat(4096)}...`);
  assert.equal(f.io.stdout.readableLength, 0, 'nothing left unread in the pipe');
});

test('kill aims SIGKILL at the exec; a wait that fails still settles exited (137) and cleans up', async () => {
  const f = fake();
  const probe = await new ExecProbeRunner(f.svc).start(container(), ['sleep', '99']);
  probe.kill();
  assert.deepEqual(f.kills, [[CID, 9, f.launched[0].id]]);
  f.failWait();
  assert.equal(await probe.exited, 137);
  assert.equal(f.records.size, 0);
  assert.equal(f.io.closed, true);
  assert.match(f.events[2] ?? '', /^exec_die .*"exitCode":"137"/);
});

test('a probe that cannot start rejects and leaves no record', async () => {
  const f = fake({ launchFails: new Error('exec: "nope": executable file not found in $PATH') });
  await assert.rejects(new ExecProbeRunner(f.svc).start(container(), ['nope']), /executable file not found/);
  assert.equal(f.records.size, 0);
});
