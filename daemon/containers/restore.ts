// The daemon's start: container state brought in line with containerd. Nothing survives a berthd
// restart running; restart policies and AutoRemove then do what they would have done.
import * as fs from 'node:fs';
import type { Logger } from 'pino';
import type { LiveContainer } from './live-container';
import { notRunning, nowRfc3339Nano, ZERO_TIME } from './model';
import { restartPolicyName } from './settings';
import type { ContainerStore } from './store';

export interface RestoreDeps {
  store: ContainerStore;
  runtime: { listContainers(): Promise<string[]>; deleteContainer(id: string): Promise<unknown>; deleteTask(id: string): Promise<unknown> };
  logger: Logger;
  containerDir(id: string): string;
  startTask(c: LiveContainer): Promise<void>;
  remove(id: string): Promise<void>;
  /** containerd containers without a record (`known` are the ones with one). */
  quarantineUnknown(inContainerd: Set<string>, known: Set<string>): Promise<void>;
}

export async function restoreContainers(deps: RestoreDeps): Promise<void> {
  const { store, runtime, logger } = deps;
  const known = new Set<string>();
  const inContainerd = new Set(await runtime.listContainers());
  for (const c of store.all()) {
    const id = c.record.id;
    known.add(id);
    if (c.state.removalInProgress) {
      await runtime.deleteContainer(id).catch(() => undefined);
      fs.rmSync(deps.containerDir(id), { recursive: true, force: true });
      store.delete(id);
      continue;
    }
    if (!inContainerd.has(id)) {
      // A record without its containerd container (a create cut short, or containerd's state
      // lost): kept for the operator, Dead so that it is never started; `docker rm` clears it.
      if (!c.state.quarantined) {
        logger.warn({ container: id, name: c.record.name }, 'quarantined at daemon start: no containerd container matches this record');
      }
      c.state = notRunning(c.state, {
        dead: true,
        quarantined: c.state.quarantined ?? `no containerd container at daemon start ${nowRfc3339Nano()}`,
        error: 'quarantined at daemon start: its containerd container is missing',
      });
      store.saveState(c);
      continue;
    }
    const wasRunning = c.state.running;
    await runtime.deleteTask(id).catch(() => undefined);
    if (wasRunning) {
      c.state = notRunning(c.state, { exitCode: 255, finishedAt: nowRfc3339Nano() });
      store.saveState(c);
    }
    const policy = restartPolicyName(c.record.hostConfig.RestartPolicy);
    const autostart = policy === 'always' || (policy === 'unless-stopped' && !c.state.manuallyStopped) || (policy === 'on-failure' && wasRunning);
    if (autostart && c.state.startedAt !== ZERO_TIME) {
      await deps.startTask(c).catch((err: unknown) => logger.warn({ err, container: id }, 'restart at daemon start failed'));
    } else if (c.record.hostConfig.AutoRemove && c.state.startedAt !== ZERO_TIME) {
      // An AutoRemove container that ran and is not coming back was due for removal (its
      // exit may have come while berthd was down).
      await deps.remove(id).catch(() => undefined);
    }
  }
  await deps.quarantineUnknown(inContainerd, known);
}
