// moby's image/cache rules for `cachefrom`: parent prefixes, the history entry's layer index, and
// the HistoryCache's choices (source's last entry, a restored entry, a local child kept only when it
// is an ancestor of a source).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HistoryCache, isValidParent, layerIndexOf } from '../../daemon/build/cache-from';
import type { BuildImage, BuildImages } from '../../daemon/build/ports';
import type { ImageConfig } from '../../daemon/images/image-config';

const h = (created_by: string, empty = false): NonNullable<ImageConfig['history']>[number] => ({
  created: '2020-01-01T00:00:00Z',
  created_by,
  ...(empty ? { empty_layer: true } : {}),
});
const cfg = (history: ImageConfig['history'], diff_ids: string[]): ImageConfig => ({
  architecture: 'amd64',
  os: 'linux',
  rootfs: { type: 'layers', diff_ids },
  history,
});

const base = cfg([h('ADD rootfs')], ['sha256:a']);
const source = cfg([h('ADD rootfs'), h('/bin/sh -c #(nop)  ENV A=1', true), h('/bin/sh -c echo hi')], ['sha256:a', 'sha256:b']);

test('isValidParent: the parent history and diff_ids are a strict prefix', () => {
  assert.equal(isValidParent(source, base), true);
  assert.equal(isValidParent(source, undefined), true);
  assert.equal(isValidParent(source, source), false);
  assert.equal(isValidParent(source, cfg([h('ADD other')], ['sha256:a'])), false);
  assert.equal(isValidParent(source, cfg([h('ADD rootfs')], ['sha256:z'])), false);
  assert.equal(isValidParent(cfg([], []), base), false);
});

test('layerIndexOf skips empty layers', () => {
  assert.equal(layerIndexOf(source, 0), 0);
  assert.equal(layerIndexOf(source, 1), undefined);
  assert.equal(layerIndexOf(source, 2), 1);
});

function fakeImages(images: BuildImage[]): BuildImages & { created: ImageConfig[]; parents: Map<string, string> } {
  const created: ImageConfig[] = [];
  const parents = new Map<string, string>();
  const byId = (id: string): BuildImage | undefined => images.find((i) => i.id === id);
  return {
    created,
    parents,
    find: byId,
    byId,
    children: (id) => images.filter((i) => (i.parent ?? '') === id),
    pull: () => Promise.reject(new Error('no pulls')),
    tag: (id) => id,
    setParent: (id, parent) => void parents.set(id, parent),
    createCached: (config, parentId, layer) => {
      created.push(config);
      const id = `restored-${created.length}`;
      images.push({ id, config, parent: parentId });
      assert.equal(layer.imageId, 'src');
      return Promise.resolve(id);
    },
  };
}

test('HistoryCache: restores entries in order, then answers the source itself for its last entry', async () => {
  const images = fakeImages([
    { id: 'base', config: base, parent: '' },
    { id: 'src', config: source, parent: '' },
  ]);
  const cache = new HistoryCache(images, [images.byId('src') as BuildImage]);
  const commitConfig = { Cmd: ['sh'], Env: ['A=1'] };
  const env = await cache.get('base', { Cmd: ['/bin/sh', '-c', '#(nop) ', 'ENV A=1'] }, commitConfig);
  assert.equal(env, 'restored-1');
  assert.deepEqual(images.created[0].rootfs.diff_ids, ['sha256:a'], 'an empty entry adds no layer');
  assert.deepEqual(images.created[0].config, commitConfig);
  assert.equal(await cache.get('restored-1', { Cmd: ['/bin/sh', '-c', 'echo other'] }, commitConfig), undefined);
  assert.equal(await cache.get('restored-1', { Cmd: ['/bin/sh', '-c', 'echo hi'] }, commitConfig), 'src');
  assert.equal(images.parents.get('src'), 'restored-1');
});

test('HistoryCache: a local child counts only as an ancestor of a source', async () => {
  const step = { Cmd: ['/bin/sh', '-c', '#(nop) ', 'ENV A=1'] };
  const child: BuildImage = {
    id: 'child',
    parent: 'base',
    config: { ...cfg([], []), created: '2021-01-01T00:00:00Z', container_config: step },
  };
  const unrelated = fakeImages([{ id: 'base', config: base, parent: '' }, child]);
  const none = new HistoryCache(unrelated, []);
  assert.equal(await none.get('base', step, {}), undefined);
  const related = fakeImages([{ id: 'base', config: base, parent: '' }, child, { id: 'src', config: cfg([h('x')], []), parent: 'child' }]);
  const cache = new HistoryCache(related, [related.byId('src') as BuildImage]);
  assert.equal(await cache.get('base', step, {}), 'child');
});
