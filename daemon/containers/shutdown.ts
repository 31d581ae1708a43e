// The daemon's stop, for the containers. Without live restore every running container is
// stopped, in parallel, as dockerd does (not recorded as a manual stop: unless-stopped ones come
// back at the next start). With it they keep running: only our ends of their output go, and the
// FIFOs stay for the next berthd, which reads on from where this one stopped.
import type { Logger } from 'pino';
import { NotModified } from '../../lib/errors';
import { settlesWithin } from '../../lib/wait';
import type { HealthChecks } from './health';
import type { LiveContainer } from './live-container';
import type { Monitor } from './monitor';
import { DEFAULT_STOP_TIMEOUT } from './settings';
import type { TaskControl } from './task-control';

export interface ShutdownDeps {
  containers: LiveContainer[];
  liveRestore: boolean;
  monitor: Pick<Monitor, 'detach' | 'shutdown'>;
  health: Pick<HealthChecks, 'detachAll' | 'shutdown'>;
  control: Pick<TaskControl, 'stop'>;
  /** The daemon's --shutdown-timeout, capping each container's own stop timeout. */
  shutdownTimeoutSec: number;
  logger: Logger;
}

/** How long a detached task's copier gets to write what it already read. */
const DETACH_DRAIN_MS = 2000;

export async function shutdownContainers(d: ShutdownDeps): Promise<void> {
  if (d.liveRestore) {
    d.monitor.detach(d.containers);
    d.health.detachAll();
    await Promise.all(
      d.containers.map(async (c) => {
        const task = c.task;
        if (!task) return;
        task.io.detach();
        await settlesWithin(task.copier.done(), DETACH_DRAIN_MS);
        await task.logger?.close().catch(() => undefined);
      }),
    );
    return;
  }
  d.monitor.shutdown(d.containers);
  d.health.shutdown(d.containers);
  await Promise.all(
    d.containers
      .filter((c) => c.state.running)
      .map(async (c) => {
        try {
          const timeoutSec = Math.min(c.record.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT, d.shutdownTimeoutSec);
          await c.locked(() => d.control.stop(c, { timeoutSec, daemonShutdown: true }));
        } catch (err) {
          if (!(err instanceof NotModified)) d.logger.warn({ err, container: c.record.id }, 'stop at shutdown failed');
        }
      }),
  );
  // The exits are reported before containerd has deleted the tasks; containerd stops after us.
  await Promise.all(d.containers.map((c) => c.taskGone()));
}
