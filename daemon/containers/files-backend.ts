// The container-files API area (docker cp, export, diff, commit) put together from its services.
import type { ContainerFilesBackend } from '../../api/routes/container-files';
import type { Containerd } from '../../runtime/containerd';
import type { EventBus } from '../events';
import { commitContainer, type CommitContainers } from './commit';
import type { ImageService } from '../images/service';
import { ContainerArchive, type ContainerLookup } from './archive';
import { containerChanges } from './changes';
import { exportContainer } from './export';

export function containerFilesBackend(deps: { ctd: Containerd; images: ImageService; containers: CommitContainers & Required<Pick<ContainerLookup, 'exclusive'>>; events: EventBus }): ContainerFilesBackend {
  const archive = new ContainerArchive(deps);
  return {
    statPath: (id, p) => archive.stat(id, p),
    archive: (id, p) => archive.archive(id, p),
    extract: (id, p, body, opts) => archive.extract(id, p, body, opts),
    export: (id) => exportContainer(deps, id),
    changes: (id) => containerChanges(deps, id),
    commit: (req) => commitContainer(deps, req),
  };
}
