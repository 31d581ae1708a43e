// The volumes side of a container: creating the volumes its mount plan names, their mount and
// unmount events, `rm -v`, and the MountPoints inspect and ps show.
import type { Logger } from 'pino';
import { NotImplemented } from '../../lib/errors';
import type { ContainerUsage } from '../container-usage';
import type { EventBus } from '../events';
import type { VolumeService } from '../volumes/service';
import type { MountPoint } from './api-types';
import type { Container } from './model';
import { mountPointView, type PlannedMount } from './mounts';

export class ContainerVolumes {
  constructor(
    private readonly volumes: VolumeService | undefined,
    private readonly usage: Pick<ContainerUsage, 'volumeUsers'>,
    private readonly events: EventBus,
    private readonly logger: Logger,
  ) {}

  /**
   * Creates the volumes the plan names (named ones on first use, anonymous ones with a new name
   * written into the plan); returns the names it created, to undo a failed create.
   */
  create(plan: PlannedMount[]): string[] {
    const made: string[] = [];
    const vols = this.volumes;
    if (!vols) {
      if (plan.some((m) => m.type === 'volume')) throw new NotImplemented('volumes are not available');
      return made;
    }
    try {
      for (const m of plan) {
        if (m.type !== 'volume') continue;
        if (m.source !== '' && vols.exists(m.source)) continue;
        const v = vols.create({ Name: m.source || undefined, Labels: m.volumeLabels, DriverOpts: m.volumeDriverOpts }, m.source === '');
        m.source = v.Name;
        made.push(v.Name);
      }
    } catch (err) {
      this.drop(made).catch((e: unknown) => this.logger.warn({ err: e }, 'removing volumes of a failed create failed'));
      throw err;
    }
    return made;
  }

  async drop(names: string[]): Promise<void> {
    for (const n of names) await this.volumes?.remove(n, true).catch(() => undefined);
  }

  /** dockerd's volume mount/unmount events, one per volume the container uses. */
  publish(c: Container, action: 'mount' | 'unmount'): void {
    for (const m of c.record.mounts ?? []) {
      if (m.type !== 'volume') continue;
      const attrs: Record<string, string> = { container: c.record.id, driver: 'local' };
      if (action === 'mount') Object.assign(attrs, { destination: m.destination, 'read/write': String(m.rw), propagation: '' });
      this.events.publish('volume', action, m.source, attrs);
    }
  }

  /** `rm -v` (after the container is gone): its anonymous volumes no other container uses. */
  async removeAnonymous(c: Container): Promise<void> {
    const vols = this.volumes;
    if (!vols) return;
    for (const m of c.record.mounts ?? []) {
      if (m.type !== 'volume' || !vols.isAnonymous(m.source) || this.usage.volumeUsers(m.source).length > 0) continue;
      await vols
        .remove(m.source, false)
        .catch((err: unknown) => this.logger.warn({ err, volume: m.source, container: c.record.id }, 'removing anonymous volume failed'));
    }
  }

  /** The MountPoints of inspect and ps. */
  mountPoints(c: Container): MountPoint[] {
    const vols = this.volumes;
    return (c.record.mounts ?? []).map((m) => mountPointView(m, (n) => (vols ? vols.mountpoint(n) : '')));
  }
}
