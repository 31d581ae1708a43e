// The container-files API area (docker cp, export, diff, commit) put together from its services.
// It satisfies api/routes/container-files.ts' ContainerFilesBackend structurally (checked where
// main.ts hands it to the server), so the daemon layer does not import the HTTP one.
import type { Containerd } from '../../runtime/containerd';
import type { EventBus } from '../events';
import { commitContainer, type CommitContainers, type CommitRequest } from './commit';
import type { ImageService } from '../images/service';
import { ContainerArchive, type ContainerLookup } from './archive';
import type { HostMounts } from './rootfs-access';
import { containerChanges } from './changes';
import { exportContainer } from './export';

export function containerFilesBackend(deps: {
  ctd: Containerd;
  images: ImageService;
  containers: CommitContainers & Required<Pick<ContainerLookup, 'exclusive'>>;
  events: EventBus;
  hostMounts: HostMounts;
}) {
  const archive = new ContainerArchive(deps);
  return {
    statPath: archive.stat.bind(archive),
    archive: archive.archive.bind(archive),
    extract: archive.extract.bind(archive),
    export: (id: string) => exportContainer(deps, id),
    changes: (id: string) => containerChanges(deps, id),
    commit: (req: CommitRequest) => commitContainer(deps, req),
  };
}
