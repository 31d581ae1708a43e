// Containers that name other containers (or a runtime) at create (--volumes-from, --ipc/--pid container:, --link, --runtime):
// an unknown one is a 400 in dockerd's words, never the 404 that the docker CLI takes for a missing
// image (it would then try to pull it); a known one is stored by ID, so a rename keeps the sharing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { berthWithBusybox, type Berth } from './harness';

let b: Berth;
berthWithBusybox((started) => (b = started));

async function runFails(args: string[], message: string): Promise<void> {
  const r = await b.docker(['run', '--rm', ...args, 'busybox', 'true']);
  assert.equal(r.code, 125, r.stderr);
  assert.ok(r.stderr.includes(`Error response from daemon: ${message}`), r.stderr);
  assert.doesNotMatch(r.stderr, /Unable to find image/);
}

describe('create naming other containers', () => {
  test('an unknown container is a bad parameter, not a missing image', async () => {
    await runFails(['--volumes-from', 'ghost'], 'No such container: ghost');
    await runFails(['--volumes-from', 'ghost:ro'], 'No such container: ghost');
    await runFails(['--ipc', 'container:ghost'], 'No such container: ghost');
    await runFails(['--pid', 'container:ghost'], 'No such container: ghost');
    await runFails(['--link', 'ghost:alias'], 'could not get container for ghost: No such container: ghost');
    const api = await b.request('POST', '/v1.53/containers/create', {
      body: JSON.stringify({ Image: 'busybox', HostConfig: { VolumesFrom: ['ghost'] } }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(api.status, 400);
    assert.deepEqual(JSON.parse(api.body), { message: 'No such container: ghost' });
    // The image is still the one thing a 404 from create may mean.
    const image = await b.request('POST', '/v1.53/containers/create', {
      body: JSON.stringify({ Image: 'no-such-image:1', HostConfig: { VolumesFrom: [] } }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(image.status, 404);
  });

  test("--ipc and --pid container:<name> are stored by ID and share the donor's namespaces", async () => {
    const donor = (await b.docker(['run', '-d', '--ipc', 'shareable', '--name', 'ns-donor', 'busybox', 'sleep', '300'])).stdout.trim();
    try {
      const made = await b.docker([
        'create',
        '--name',
        'ns-sharer',
        '--ipc',
        'container:ns-donor',
        '--pid',
        'container:ns-donor',
        'busybox',
        'true',
      ]);
      assert.equal(made.code, 0, made.stderr);
      const modes = await b.docker(['inspect', '-f', '{{.HostConfig.IpcMode}} {{.HostConfig.PidMode}}', 'ns-sharer']);
      assert.equal(modes.stdout.trim(), `container:${donor} container:${donor}`);
      const ps = await b.docker(['run', '--rm', '--pid', 'container:ns-donor', 'busybox', 'ps', '-o', 'args']);
      assert.equal(ps.code, 0, ps.stderr);
      assert.match(ps.stdout, /sleep 300/);
    } finally {
      await b.docker(['rm', '-f', 'ns-donor', 'ns-sharer']);
    }
  });

  test('--runtime: runc under either of its names runs; another name is refused as moby refuses it', async () => {
    for (const rt of ['runc', 'io.containerd.runc.v2']) {
      const r = await b.docker(['run', '--rm', '--runtime', rt, 'busybox', 'echo', rt]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${rt}\n`);
    }
    await runFails(['--runtime', 'kata'], 'unknown or invalid runtime name: kata');
  });
});
