// The builder's ports over the container, file and image services (main.ts builds this once).
import type { Containerd } from '../../runtime/containerd';
import { NotFound, SystemError } from '../../lib/errors';
import { exactStringify } from '../../lib/int64';
import { commitContainer } from '../containers/commit';
import { withContainerRoot, type HostMounts } from '../containers/rootfs-access';
import type { ContainerService } from '../containers/service';
import type { EventBus } from '../events';
import { resolveImage } from '../images/lookup';
import { familiarString, parseNormalizedNamed, tagNameOnly } from '../images/reference';
import type { ImageService } from '../images/service';
import { storeImage } from '../images/image-writer';
import type { ImageRow } from '../../store/image-repo';
import type { BuildDeps, BuildImage } from './ports';

export function buildDeps(deps: {
  ctd: Containerd;
  containers: ContainerService;
  images: ImageService;
  events: EventBus;
  hostMounts: HostMounts;
  tmpDir: string;
}): BuildDeps {
  const { ctd, containers, images } = deps;
  const view = (row: ImageRow): BuildImage => ({ id: row.id, config: images.config(row), parent: row.parent });
  return {
    tmpDir: deps.tmpDir,
    containers: {
      create: async (config, hostConfig, scratch) =>
        (await containers.create({ name: '', config, hostConfig, networkingConfig: null, scratch })).Id,
      start: (id) => containers.start(id),
      waitExit: async (id, signal) => (await containers.wait(id, 'next-exit', signal)).StatusCode,
      attachOutput: (id, onOutput) =>
        new Promise<void>((resolve, reject) => {
          const session = containers.attach(id, { stdin: false, stdout: true, stderr: true, stream: true, logs: false, detachKeys: '' });
          session
            .start({
              output: (stream, chunk) => onOutput(stream, chunk),
              end: () => resolve(),
            })
            .catch(reject);
        }),
      kill: (id) => containers.kill(id, 'SIGKILL'),
      remove: (id) => containers.remove(id, { force: true, volumes: true }),
      withRoot: (id, mode, fn) => withContainerRoot(ctd, containers.get(id), mode, fn, deps.hostMounts),
      commit: (id, config, containerConfig, author) =>
        commitContainer(
          { ctd, images, containers, events: deps.events },
          { container: id, repo: '', tag: '', comment: '', author, pause: false, changes: [], buildStep: { config, containerConfig } },
        ),
    },
    images: {
      find: (ref) => {
        try {
          return view(resolveImage(images.repo, ref).image);
        } catch (err) {
          if (err instanceof NotFound) return undefined;
          throw err;
        }
      },
      byId: (id) => {
        const row = images.repo.get(id);
        return row ? view(row) : undefined;
      },
      children: (id) =>
        images.repo
          .children(id)
          .map((c) => images.repo.get(c))
          .filter((r): r is ImageRow => r !== undefined)
          .map(view),
      pull: (ref, credentials, progress, signal, platform) =>
        images.pull({ fromImage: ref, tag: '', credentials, signal, ...(platform ? { platform } : {}) }, progress),
      tag: (imageId, ref) => {
        const named = tagNameOnly(parseNormalizedNamed(ref));
        images.addTag(imageId, named);
        return familiarString(named);
      },
      setParent: (imageId, parentId) => images.repo.setParent(imageId, parentId),
      createCached: async (config, parentId, layer) => {
        const rows = parentId === '' ? [] : images.repo.layers(parentId);
        if (layer.layerIndex !== undefined) {
          const row = images.repo.layers(layer.imageId)[layer.layerIndex];
          if (row === undefined) throw new SystemError(`image ${layer.imageId} has no layer ${layer.layerIndex}`);
          rows.push(row);
        }
        const stored = await storeImage(ctd, images.repo, {
          config: Buffer.from(exactStringify(config)),
          layers: rows.map((l) => ({
            digest: l.blobDigest,
            size: l.blobSize,
            mediaType: l.mediaType,
            diffId: l.diffId,
            uncompressedSize: l.uncompressedSize,
          })),
          created: config.created ?? new Date().toISOString(),
          parent: parentId,
        });
        return stored.id;
      },
    },
  };
}
