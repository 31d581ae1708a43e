// ServiceStatus for `GET /services?status=true` (`docker service ls` REPLICAS), counted as
// swarmkit's controlapi ListServiceStatuses counts it: running tasks are those whose observed
// state is running (whatever their desired state); desired tasks are Replicas, or for a global
// service the tasks whose desired state is running.
import type { Service, Task } from './types';

export interface ServiceStatus {
  RunningTasks: number;
  DesiredTasks: number;
  CompletedTasks: number;
}

export function serviceStatus(service: Service | undefined, tasks: readonly Task[]): ServiceStatus {
  const id = service?.ID;
  const mine = tasks.filter((t) => t.ServiceID === id);
  const replicas = service?.Spec?.Mode?.Replicated?.Replicas;
  const global = service !== undefined && replicas === undefined;
  let running = 0;
  let desired = global ? 0 : (replicas ?? 0);
  for (const t of mine) {
    if (t.Status?.State === 'running') running++;
    if (global && t.DesiredState === 'running') desired++;
  }
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: 0 };
}
