// `docker rm` leaves nothing in containerd whatever the container's history: created only (just
// the rw snapshot: containerd's record comes with the first start; the runtime skips Tasks.Get
// and Containers.Delete, runtime/tasks.ts `taskless` and `recordless`), run and exited (its task
// deleted on the exit path), and created before the daemon was SIGKILLed and started again (the
// new process asks containerd, and the start-up reconcile deletes whatever task it finds). The
// containerd side is deleted behind the rm (docs/divergence.md), hence the waits. And create
// answers before its rw snapshot is prepared: what a client sends right after the answer waits
// for it (runtime/snapshots.ts), which the last test drives with requests sent at once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { ctr, dockerArchive, smallImage, tarOf } from './archive-tools';
import { destroyBerth, loadBusybox, pollUntil, startBerth, type Berth } from './harness';

let b: Berth;
before(async () => {
  b = await startBerth();
  await loadBusybox(b);
});
after(async () => {
  if (b) await destroyBerth(b);
});

async function create(name: string, cmd = ['true']): Promise<string> {
  const r = await b.docker(['create', '--network', 'none', '--name', name, 'busybox', ...cmd]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** What containerd still holds of container `id`: its record, its rw snapshot, its task. */
async function leftIn(id: string): Promise<string[]> {
  const left: string[] = [];
  if ((await ctr(b, ['containers', 'ls', '-q'])).split('\n').includes(id)) left.push('container');
  if ((await ctr(b, ['snapshots', '--snapshotter', 'overlayfs', 'ls'])).includes(id)) left.push('snapshot');
  if ((await ctr(b, ['tasks', 'ls'])).includes(id)) left.push('task');
  return left;
}

/** Removes the container, then waits (15 s at most) for containerd to hold nothing of it. */
async function rm(name: string, id: string): Promise<void> {
  const r = await b.docker(['rm', name]);
  assert.equal(r.code, 0, r.stderr);
  let left: string[] = [];
  await pollUntil(15_000, 50, async () => (left = await leftIn(id)).length === 0);
  assert.deepEqual(left, [], `containerd still holds this of ${name} 15 s after its rm`);
}

test('rm of a created container, of an exited one, and of one created before a crash', async () => {
  const created = await create('rm-created');
  // Its snapshot is prepared behind the create's answer: there soon, and alone.
  let left: string[] = [];
  await pollUntil(15_000, 20, async () => (left = await leftIn(created)).length > 0);
  assert.deepEqual(left, ['snapshot']);
  await rm('rm-created', created);

  const exited = await create('rm-exited');
  const start = await b.docker(['start', '-a', 'rm-exited']);
  assert.equal(start.code, 0, start.stderr);
  // The start made containerd's record (its task may still be in deletion behind the exit).
  assert.deepEqual(
    (await leftIn(exited)).filter((l) => l !== 'task'),
    ['container', 'snapshot'],
  );
  await rm('rm-exited', exited);

  // Created, and started once so that it has had a task, before the daemon is killed.
  const beforeCrash = await create('rm-before-crash');
  const ranBefore = await create('rm-ran-before-crash', ['sleep', '3600']);
  assert.equal((await b.docker(['start', 'rm-ran-before-crash'])).code, 0);
  await b.stop('SIGKILL');
  b = await startBerth({ dir: b.dir });
  await rm('rm-before-crash', beforeCrash);
  await rm('rm-ran-before-crash', ranBefore);
});

test('dockerode: requests sent the moment create answers find its rw snapshot (inspect, cp in, diff, start, export); rm at once', async () => {
  const docker = new Docker({ socketPath: b.socket });
  const opts = { Image: 'busybox', Cmd: ['cat', '/in/file'], HostConfig: { NetworkMode: 'none' } };
  const archive = await tarOf([{ name: 'in/' }, { name: 'in/file', data: 'sent right after create\n' }]);
  for (let round = 0; round < 5; round++) {
    const c = await docker.createContainer(opts);
    // All at once: none of these waits for another.
    const [inspect, , changes] = await Promise.all([c.inspect(), c.putArchive(archive, { path: '/' }), c.changes()]);
    // dockerode types GraphDriver.Data after devicemapper's keys; overlay2's are UpperDir and more.
    assert.match((inspect.GraphDriver.Data as unknown as Record<string, string>).UpperDir ?? '', /\/fs$/);
    assert.ok(Array.isArray(changes) || changes === null, 'diff answered');
    const started = await b.docker(['start', '-a', c.id]);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout, 'sent right after create\n');
    const exported = await c.export();
    let bytes = 0;
    for await (const chunk of exported) bytes += (chunk as Buffer).length;
    assert.ok(bytes > 0, 'export streamed the rootfs');
    await rm(c.id, c.id);
    // A container removed the moment it is created leaves nothing behind either.
    const again = await docker.createContainer(opts);
    await again.remove();
    let left: string[] = [];
    await pollUntil(15_000, 50, async () => (left = await leftIn(again.id)).length === 0);
    assert.deepEqual(left, [], `containerd still holds this of a container removed at once`);
  }
});

test('dockerode: rmi -f of its image the moment create answers; the container keeps its layers', async () => {
  const docker = new Docker({ socketPath: b.socket });
  for (let round = 0; round < 5; round++) {
    const tag = `prep-race:${round}`;
    const img = await smallImage({ 'data/keep': `layer ${round}\n` }, [tag], { created: `2024-01-0${round + 1}T00:00:00Z` });
    const loaded = await b.request('POST', '/images/load?quiet=1', {
      body: await dockerArchive([img]),
      headers: { 'Content-Type': 'application/x-tar' },
    });
    assert.equal(loaded.status, 200, loaded.body);
    const c = await docker.createContainer({ Image: tag, Cmd: ['true'] });
    const deleted = (await docker.getImage(tag).remove({ force: true })) as { Deleted?: string; Untagged?: string }[];
    assert.ok(
      deleted.some((d) => d.Deleted === img.id),
      `the image itself was deleted: ${JSON.stringify(deleted)}`,
    );
    // The layer is still the container's: its file reads back through the archive route.
    const archive = await c.getArchive({ path: '/data/keep' });
    let text = '';
    for await (const chunk of archive) text += (chunk as Buffer).toString('latin1');
    assert.ok(text.includes(`layer ${round}\n`), 'the file of the removed image is in the container');
    await rm(c.id, c.id);
  }
});
