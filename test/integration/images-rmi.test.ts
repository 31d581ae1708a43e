// docker rmi and docker image prune with the real docker CLI against a real berthd: untagging,
// conflicts, shared layers, images in use, prune filters; error texts are dockerd's.

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { buildBusyboxLayer } from '../fixtures/busybox-image';
import { archiveImageId, contentDigests, dockerArchive, hex, humanSize, short, smallImage, untar } from './archive-tools';
import {
  BB_DIFF,
  BB_ID,
  type SmallImage,
  apiImages,
  b,
  busybox,
  docker,
  fails,
  inspect,
  lines,
  ok,
  wipe,
  useImagesBerth,
} from './images-kit';

useImagesBerth();

describe('docker rmi', () => {
  before(async () => {
    await wipe();
    await ok(['load'], busybox);
  });

  test('removing one of several tags only untags', async () => {
    await ok(['tag', 'busybox', 'rmi/extra:1']);
    assert.equal(await ok(['rmi', 'rmi/extra:1']), 'Untagged: rmi/extra:1\n');
    assert.deepEqual((await inspect(BB_ID)).RepoTags, ['busybox:latest']);
  });

  test('an ID with several tags is a 409 conflict unless forced', async () => {
    await ok(['tag', 'busybox', 'rmi/extra:2']);
    await fails(
      ['rmi', short(BB_ID)],
      `Error response from daemon: conflict: unable to delete ${short(BB_ID)} (must be forced) - image is referenced in multiple repositories`,
    );
    const raw = await b.request('DELETE', `/images/${hex(BB_ID)}`);
    assert.equal(raw.status, 409);
    assert.deepEqual(JSON.parse(raw.body), {
      message: `conflict: unable to delete ${short(BB_ID)} (must be forced) - image is referenced in multiple repositories`,
    });
    assert.deepEqual((await inspect(BB_ID)).RepoTags, ['busybox:latest', 'rmi/extra:2']);
  });

  test('-f with an ID untags everything and deletes image and layer, content included', async () => {
    assert.ok((await contentDigests(b)).includes(BB_ID));
    const out = lines(await ok(['rmi', '-f', short(BB_ID)]));
    // A one-layer image's chain ID is its layer's diff ID.
    assert.deepEqual(out, ['Untagged: busybox:latest', 'Untagged: rmi/extra:2', `Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
    assert.deepEqual(await apiImages(), []);
    const content = await contentDigests(b);
    assert.ok(!content.includes(BB_ID), 'config blob left in containerd');
    assert.ok(!content.includes(BB_DIFF), 'layer blob left in containerd');
  });

  test('removing the last tag deletes the image; --no-prune does too', async () => {
    await ok(['load'], busybox);
    assert.deepEqual(lines(await ok(['rmi', 'busybox'])), ['Untagged: busybox:latest', `Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
    await ok(['load'], busybox);
    assert.deepEqual(lines(await ok(['rmi', '--no-prune', 'busybox:latest'])), [
      'Untagged: busybox:latest',
      `Deleted: ${BB_ID}`,
      `Deleted: ${BB_DIFF}`,
    ]);
    assert.deepEqual(await apiImages(), []);
  });

  test('a layer shared with another image stays until its last image goes', async () => {
    // Same layer, different config (an author): another image on the same layer.
    const config = JSON.parse(String((await untar(busybox)).get(`blobs/sha256/${hex(BB_ID)}`))) as Record<string, unknown>;
    const a = await dockerArchive([{ config: { ...config, author: 'a' }, layers: [await buildBusyboxLayer()], tags: ['shared:a'] }]);
    const aId = await archiveImageId(a);
    await ok(['load'], busybox);
    await ok(['load'], a);
    assert.deepEqual(lines(await ok(['rmi', 'shared:a'])), ['Untagged: shared:a', `Deleted: ${aId}`]);
    assert.ok((await contentDigests(b)).includes(BB_DIFF));
    assert.equal((await inspect('busybox')).Id, BB_ID);
    assert.deepEqual(lines(await ok(['rmi', 'busybox'])), ['Untagged: busybox:latest', `Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
    assert.ok(!(await contentDigests(b)).includes(BB_DIFF));
  });

  test('an image a container uses: its last tag and the image are protected, forcing untags only', async () => {
    await ok(['load'], busybox);
    const cid = (await ok(['create', '--network', 'none', 'busybox', 'sleep', '60'])).trim();
    const c12 = cid.slice(0, 12);
    try {
      const refMsg = `conflict: unable to remove repository reference "busybox" (must force) - container ${c12} is using its referenced image ${short(BB_ID)}`;
      await fails(['rmi', 'busybox'], `Error response from daemon: ${refMsg}`);
      const raw = await b.request('DELETE', '/images/busybox');
      assert.equal(raw.status, 409);
      assert.deepEqual(JSON.parse(raw.body), { message: refMsg });
      await fails(
        ['rmi', short(BB_ID)],
        `Error response from daemon: conflict: unable to delete ${short(BB_ID)} (must be forced) - image is being used by stopped container ${c12}`,
      );
      // prune -a leaves images in use alone.
      assert.equal(await ok(['image', 'prune', '-a', '-f']), 'Total reclaimed space: 0B\n');
      await ok(['start', cid]);
      await fails(
        ['rmi', '-f', BB_ID],
        `Error response from daemon: conflict: unable to delete ${short(BB_ID)} (cannot be forced) - image is being used by running container ${c12}`,
      );
      // Forcing the tag away untags; the image stays for its container.
      assert.equal(await ok(['rmi', '-f', 'busybox']), 'Untagged: busybox:latest\n');
      assert.deepEqual((await inspect(BB_ID)).RepoTags, []);
    } finally {
      await docker(['rm', '-f', cid]);
    }
    assert.deepEqual(lines(await ok(['rmi', short(BB_ID)])), [`Deleted: ${BB_ID}`, `Deleted: ${BB_DIFF}`]);
  });

  test('an unknown image: No such image', async () => {
    await fails(['rmi', 'nosuch'], 'Error response from daemon: No such image: nosuch:latest');
    await fails(
      ['rmi', 'sha256:0000000000000000000000000000000000000000000000000000000000000000'],
      'Error response from daemon: No such image: sha256:0000000000000000000000000000000000000000000000000000000000000000',
    );
    const r = await b.request('DELETE', '/images/nosuch:2');
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(r.body), { message: 'No such image: nosuch:2' });
  });
});

describe('docker image prune', () => {
  let d1: SmallImage;
  let d2: SmallImage;
  let t1: SmallImage;
  let t2: SmallImage;
  const sizeOf = new Map<string, number>();

  before(async () => {
    await wipe();
    d1 = await smallImage({ d1: 'x'.repeat(5000) }, []);
    d2 = await smallImage({ d2: 'y'.repeat(9000) }, [], { labels: { prune: 'me' } });
    t1 = await smallImage({ t1: 'z'.repeat(20000) }, ['prune/t1:1'], { labels: { prune: 'me' } });
    t2 = await smallImage({ t2: 'w' }, ['prune/t2:1']);
    await ok(['load'], await dockerArchive([d1, d2, t1, t2]));
    for (const i of await apiImages()) sizeOf.set(i.Id, i.Size);
    assert.equal(sizeOf.size, 4);
  });

  const pruneOutput = (records: string[], ids: string[]): string =>
    `Deleted Images:\n${records.join('\n')}\n\nTotal reclaimed space: ${humanSize(ids.reduce((n, id) => n + (sizeOf.get(id) ?? NaN), 0))}\n`;

  test('--filter label=… limits dangling pruning to matching images', async () => {
    const out = await ok(['image', 'prune', '-f', '--filter', 'label=prune=me']);
    assert.equal(out, pruneOutput([`deleted: ${d2.id}`, `deleted: ${d2.diffId}`], [d2.id]));
  });

  test('without -a only dangling images go', async () => {
    const out = await ok(['image', 'prune', '-f']);
    assert.equal(out, pruneOutput([`deleted: ${d1.id}`, `deleted: ${d1.diffId}`], [d1.id]));
    assert.deepEqual((await apiImages()).map((i) => i.Id).sort(), [t1.id, t2.id].sort());
    assert.equal(await ok(['image', 'prune', '-f']), 'Total reclaimed space: 0B\n');
  });

  test('-a with a label filter removes only the matching tagged image', async () => {
    const out = await ok(['image', 'prune', '-a', '-f', '--filter', 'label=prune=me']);
    assert.equal(out, pruneOutput(['untagged: prune/t1:1', `deleted: ${t1.id}`, `deleted: ${t1.diffId}`], [t1.id]));
    assert.deepEqual(
      (await apiImages()).map((i) => i.Id),
      [t2.id],
    );
  });

  test('-a removes every unused image and reports the space', async () => {
    const r = await b.request('POST', '/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(JSON.parse(r.body), {
      ImagesDeleted: [{ Untagged: 'prune/t2:1' }, { Deleted: t2.id }, { Deleted: t2.diffId }],
      SpaceReclaimed: sizeOf.get(t2.id),
    });
    assert.deepEqual(await apiImages(), []);
    assert.equal(await ok(['image', 'prune', '-a', '-f']), 'Total reclaimed space: 0B\n');
  });
});
