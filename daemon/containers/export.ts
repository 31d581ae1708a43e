// docker export: the container's whole filesystem (its snapshot, without the bind-mounted files
// and without what is mounted inside the running container) as one tar.
import { Readable } from 'node:stream';
import type { Containerd } from '../../runtime/containerd';
import type { EventBus } from '../events';
import type { ContainerLookup } from './archive';
import { containerEventAttributes } from './model';
import { mountContainerSnapshotReadOnly } from './rootfs-access';
import { tarTree } from './tar-tree';

export async function exportContainer(
  deps: { ctd: Containerd; containers: ContainerLookup; events: EventBus },
  input: string,
): Promise<Readable> {
  const c = deps.containers.get(input);
  const m = await mountContainerSnapshotReadOnly(deps.ctd, c.record.id);
  const pack = tarTree({ r: { root: m.path, mounts: new Map() }, containerPath: '/', name: '', skipTop: true }, () => m.release());
  deps.events.publish('container', 'export', c.record.id, containerEventAttributes(c.record));
  return Readable.from(pack);
}
