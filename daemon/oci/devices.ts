// Docker's device settings (HostConfig.Devices, Privileged, the blkio device lists) mapped onto
// runtime/devices.ts, which knows only device nodes.

import {
  blockDeviceNumbers,
  hostDevices,
  resolveDevice,
  type DeviceNumber,
  type DeviceRequest,
  type HostDevice,
} from '../../runtime/devices';
import type { DeviceMapping, HostConfig } from '../containers/api-types';

function request(m: DeviceMapping): DeviceRequest {
  return { pathOnHost: m.PathOnHost ?? '', pathInContainer: m.PathInContainer, permissions: m.CgroupPermissions };
}

/** The devices for one HostConfig.Devices entry (`/dev/fuse:/dev/fuse:rwm`). */
export function resolveDeviceMapping(m: DeviceMapping): Promise<HostDevice[]> {
  return resolveDevice(request(m));
}

/**
 * All devices a container gets: for privileged, every host device plus the mappings whose path
 * differs inside (their permissions are ignored, as dockerd); otherwise the mappings.
 */
export async function resolveContainerDevices(hostConfig: Pick<HostConfig, 'Devices' | 'Privileged'>): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  if (hostConfig.Privileged) {
    out.push(...(await hostDevices()));
    for (const m of hostConfig.Devices ?? []) {
      if (m.PathOnHost === (m.PathInContainer || m.PathOnHost)) continue;
      out.push(...(await resolveDevice({ ...request(m), permissions: 'rwm' })));
    }
    return out;
  }
  for (const m of hostConfig.Devices ?? []) out.push(...(await resolveDevice(request(m))));
  return out;
}

/** major:minor of each block device named in the blkio settings, keyed by the path given. */
export async function resolveBlkioDevices(
  resources: Pick<
    HostConfig,
    'BlkioWeightDevice' | 'BlkioDeviceReadBps' | 'BlkioDeviceWriteBps' | 'BlkioDeviceReadIOps' | 'BlkioDeviceWriteIOps'
  >,
): Promise<Record<string, DeviceNumber>> {
  const paths = new Set<string>();
  for (const list of [
    resources.BlkioWeightDevice,
    resources.BlkioDeviceReadBps,
    resources.BlkioDeviceWriteBps,
    resources.BlkioDeviceReadIOps,
    resources.BlkioDeviceWriteIOps,
  ]) {
    for (const d of list ?? []) if (d.Path) paths.add(d.Path);
  }
  return blockDeviceNumbers(paths);
}
