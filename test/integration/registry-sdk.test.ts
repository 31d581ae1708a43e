// Push and pull through dockerode's own request shapes (standard-base64 X-Registry-Auth from
// `authconfig`, `fromImage` + `tag` split by the SDK, the progress stream read by followProgress)
// against a Basic-auth registry: what an SDK user sees, not only what the CLI sends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Docker from 'dockerode';
import { berthWithBusybox, type Berth } from './harness';
import { useRegistry } from './registry-kit';

let b: Berth;
berthWithBusybox((started) => (b = started));
const reg = useRegistry({ auth: { basic: [{ user: 'sdk', pass: 'p4ss' }] } });

interface Event {
  status?: string;
  error?: string;
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

/** Runs a dockerode stream to its end, collecting the JSON messages (an `error` message is one of them). */
function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<Event[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, out: Event[]) => (err ? reject(err) : resolve(out)));
  });
}

test('dockerode pushes with authconfig, then pulls back the same image; bad credentials are refused', async () => {
  const docker = new Docker({ socketPath: b.socket });
  const ref = `${reg().host}/sdk/busybox`;
  await docker.getImage('busybox:latest').tag({ repo: ref, tag: 'v1' });
  const id = (await docker.getImage(`${ref}:v1`).inspect()).Id;
  const authconfig = { username: 'sdk', password: 'p4ss', serveraddress: reg().host };

  const pushed = await follow(docker, await docker.getImage(`${ref}:v1`).push({ authconfig }));
  const aux = pushed.find((e) => e.aux?.Digest !== undefined)?.aux;
  assert.equal(aux?.Tag, 'v1');
  assert.match(aux?.Digest ?? '', /^sha256:[0-9a-f]{64}$/);

  await docker.getImage(`${ref}:v1`).remove();
  const pulled = await follow(docker, await docker.pull(`${ref}:v1`, { authconfig }));
  assert.ok(
    pulled.some((e) => e.status === `Digest: ${aux?.Digest ?? ''}`),
    JSON.stringify(pulled),
  );
  assert.ok(pulled.some((e) => e.status === `Status: Downloaded newer image for ${ref}:v1`));
  const again = await docker.getImage(`${ref}:v1`).inspect();
  assert.equal(again.Id, id, 'push then pull gives the same image ID');
  assert.ok(again.RepoDigests.includes(`${ref}@${aux?.Digest ?? ''}`));

  // Without credentials the pull is refused before any stream: dockerode rejects with the status.
  await docker.getImage(`${ref}:v1`).remove();
  await assert.rejects(
    async () =>
      follow(docker, await docker.pull(`${ref}:v1`, { authconfig: { username: 'sdk', password: 'wrong', serveraddress: reg().host } })),
    (err: Error & { statusCode?: number }) =>
      err.statusCode !== undefined && err.statusCode >= 400 && /denied|unauthorized|authentication/i.test(err.message),
  );
  await assert.rejects(() => docker.getImage(`${ref}:v1`).inspect(), /no such image/i);
});
