// What Berth keeps about a container: the record written at create (and on rename/update) and
// the state that changes at every transition. Both persist in SQLite as JSON.
import type { ContainerConfig, HostConfig, NetworkingConfig } from './api-types';
import type { PlannedMount } from './mounts';
import type { EndpointConfig } from '../networks/model';
import { formatRFC3339Nano, nanoTimeOf } from '../../lib/time';

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface ContainerRecord {
  id: string;
  /** Without the leading slash the API shows. */
  name: string;
  created: string;
  path: string;
  args: string[];
  /** Config as merged with the image's; `Image` is what the user asked for. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  networkingConfig: NetworkingConfig | null;
  imageId: string;
  /** The image's top layer chain, parent of the container's snapshot. */
  snapshotParent: string;
  logPath: string;
  resolvConfPath: string;
  hostnamePath: string;
  hostsPath: string;
  /** The mount plan made at create (absent on records from before volumes existed). */
  mounts?: PlannedMount[];
  /** What the container asked of each network, first one from NetworkMode (changed by connect/disconnect). */
  networks?: EndpointConfig[];
}

export interface HealthState {
  Status: 'none' | 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

export interface ContainerState {
  running: boolean;
  paused: boolean;
  restarting: boolean;
  oomKilled: boolean;
  removalInProgress: boolean;
  dead: boolean;
  pid: number;
  exitCode: number;
  error: string;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** Set by `docker stop`/`kill`: unless-stopped and always must not bring it back. */
  manuallyStopped: boolean;
  health?: HealthState;
  /** Why the start-up reconcile quarantined this record (kept, Dead, never started). */
  quarantined?: string;
  /**
   * The task's exit, written before containerd forgets it (the task's delete): a berthd killed
   * before the exit is fully handled still finds the real exit code at the next start.
   */
  exitSeen?: { exitCode: number; finishedAt: string };
}

/** `state` with no process: not running, paused or restarting, no pid; `changes` applied over it. */
export function notRunning(state: ContainerState, changes: Partial<ContainerState> = {}): ContainerState {
  const { exitSeen: _handled, ...rest } = state;
  return { ...rest, running: false, paused: false, restarting: false, pid: 0, ...changes };
}

export function initialState(): ContainerState {
  return {
    running: false,
    paused: false,
    restarting: false,
    oomKilled: false,
    removalInProgress: false,
    dead: false,
    pid: 0,
    exitCode: 0,
    error: '',
    startedAt: ZERO_TIME,
    finishedAt: ZERO_TIME,
    restartCount: 0,
    manuallyStopped: false,
  };
}

export type StatusName = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** The one-word status (dockerd's StateString), used by inspect, filters and events. */
export function statusName(s: ContainerState): StatusName {
  if (s.running) {
    if (s.paused) return 'paused';
    if (s.restarting) return 'restarting';
    return 'running';
  }
  if (s.removalInProgress) return 'removing';
  if (s.dead) return 'dead';
  if (s.startedAt === ZERO_TIME) return 'created';
  return 'exited';
}

/** go-units HumanDuration, as `docker ps` words ages. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3_600_000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

const since = (time: string, now: number): string => humanDuration(now - Date.parse(time));

/** The human status of `docker ps` (dockerd's State.String). */
export function statusText(s: ContainerState, now = Date.now()): string {
  if (s.running) {
    if (s.paused) return `Up ${since(s.startedAt, now)} (Paused)`;
    if (s.restarting) return `Restarting (${s.exitCode}) ${since(s.finishedAt, now)} ago`;
    if (s.health && s.health.Status !== 'none') return `Up ${since(s.startedAt, now)} (${healthText(s.health.Status)})`;
    return `Up ${since(s.startedAt, now)}`;
  }
  if (s.removalInProgress) return 'Removal In Progress';
  if (s.dead) return 'Dead';
  if (s.startedAt === ZERO_TIME) return 'Created';
  if (s.finishedAt === ZERO_TIME) return '';
  return `Exited (${s.exitCode}) ${since(s.finishedAt, now)} ago`;
}

function healthText(status: HealthState['Status']): string {
  return status === 'starting' ? 'health: starting' : status;
}

// The container modules take their clock from here; the one implementation is lib/time.ts'.
export { nowRFC3339Nano as nowRfc3339Nano } from '../../lib/time';

/** A Date in Go's RFC 3339 nano form (state times such as containerd's exit time). */
export function rfc3339Nano(date: Date): string {
  return formatRFC3339Nano(nanoTimeOf(date));
}

/** A container as the services hand it around: the record and its current state. */
export interface Container {
  record: ContainerRecord;
  state: ContainerState;
}

/** The attributes dockerd puts on a container's events: its labels, image and name. */
export function containerEventAttributes(record: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
  return { ...(record.config.Labels ?? {}), image: record.config.Image ?? '', name: record.name, ...extra };
}
