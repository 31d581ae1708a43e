// What the metrics read from the rest of the daemon: the event bus (events, pulls), the container
// store (states, per-container facts) and the shared stats collector. main.ts creates the
// DaemonMetrics first (containerd and the API server report into it as they are built) and calls
// this once the services exist.

import type { EventBus } from '../events';
import type { LiveContainer } from '../containers/live-container';
import type { StatsSample } from '../containers/stats';
import { registerContainerMetrics, registerContainerStates } from './container-metrics';
import type { DaemonMetrics } from './daemon-metrics';

export interface MetricsSources {
  events: EventBus;
  containers: { all(): LiveContainer[]; counts(): { running: number; paused: number; stopped: number } };
  samples(ids: readonly string[], timeoutMs: number): Promise<Map<string, StatsSample>>;
}

/** Hooks the metrics to the daemon's sources; returns the function that unhooks them. */
export function connectMetrics(metrics: DaemonMetrics, src: MetricsSources): () => void {
  const unsubscribe = src.events.subscribe(
    (ev) => {
      metrics.countEvent(ev.Type, ev.Action);
      if (ev.Type === 'image' && ev.Action === 'pull') metrics.countPull();
    },
    { internal: true },
  );
  registerContainerStates(metrics, () => src.containers.counts());
  registerContainerMetrics(metrics, {
    containers: () =>
      src.containers.all().map((c) => {
        const health = c.state.health?.Status;
        return {
          id: c.id,
          name: c.record.name,
          image: c.record.config.Image ?? c.record.imageId,
          running: c.state.running && !c.state.restarting,
          paused: c.state.paused,
          restartCount: c.state.restartCount,
          ...(health && health !== 'none' ? { health } : {}),
        };
      }),
    samples: (ids, timeoutMs) => src.samples(ids, timeoutMs),
  });
  return unsubscribe;
}
