// What the task layer (tasks.ts) takes and returns, and the codecs between containerd's task
// messages and those shapes: task status names, JSON payloads as Any, cgroup metrics.

import { ociJson } from './oci-types';
import type { Logger } from 'pino';
import { SystemError } from '../lib/errors';
import type { Containerd } from './containerd';
import { type TaskIO } from './fifo';
import type { Mount } from './gen/github.com/containerd/containerd/api/types/mount';
import { Status } from './gen/github.com/containerd/containerd/api/types/task/task';
import { Metrics as V1Metrics } from './gen/metrics/github.com/containerd/cgroups/stats/v1/metrics';
import { Metrics as V2Metrics } from './gen/metrics/github.com/containerd/cgroups/v2/stats/metrics';

export type TaskStatus = 'created' | 'running' | 'stopped' | 'paused' | 'pausing' | 'unknown';

export interface TaskState {
  status: TaskStatus;
  pid: number;
  /** Set once the process has stopped. */
  exitStatus?: number;
  exitedAt?: Date;
}

export interface ExitStatus {
  /** The process's exit code, or 128 + signal number when a signal killed it. */
  exitStatus: number;
  exitedAt: Date;
}

export type TaskMetrics = { cgroup: 'v1'; data: V1Metrics } | { cgroup: 'v2'; data: V2Metrics };

export interface ContainerRuntimeOptions {
  ctd: Containerd;
  /** Directory for FIFOs, one subdirectory per container (`<exec-root>/fifo`). */
  fifoRoot: string;
  logger: Logger;
  snapshotter?: 'overlayfs';
  runtimeName?: 'io.containerd.runc.v2';
}

/** containerd's record of a container, made at its first start (putContainer). */
export interface ContainerRecordOptions {
  /** The OCI runtime spec as JSON-able object. */
  spec: object;
  imageName: string;
  labels?: Record<string, string>;
}

/** The stdio of a process (a task's init or an exec). */
export interface ProcessIOOptions {
  stdin: boolean;
  /** Must agree with the spec's process.terminal. */
  terminal: boolean;
}

export interface StartOptions extends ProcessIOOptions {
  /** The rw snapshot's mounts, when the caller has read them already (the spec's build does). */
  rootfs?: Mount[];
  /**
   * containerd's record of the container being written (putContainer), left to run while the
   * task's stdio is made: Tasks.Create waits for it, and its failure fails the start.
   */
  record?: Promise<void>;
}

export interface ExecOptions extends ProcessIOOptions {
  /** The OCI Process as JSON-able object; its `terminal` is set from `terminal`. */
  process: object;
}

export interface Started {
  pid: number;
  io: TaskIO;
}

export function statusName(s: Status | undefined): TaskStatus {
  switch (s) {
    case Status.CREATED:
      return 'created';
    case Status.RUNNING:
      return 'running';
    case Status.STOPPED:
      return 'stopped';
    case Status.PAUSED:
      return 'paused';
    case Status.PAUSING:
      return 'pausing';
    default:
      return 'unknown';
  }
}

/** Exported for tests: the Any for a JSON payload of the given OCI type. */
export function jsonAny(typeUrl: string, value: object): { typeUrl: string; value: Buffer } {
  // ociJson keeps 64-bit values (unlimited rlimits are 2^64-1) exact, which JSON.stringify cannot.
  return { typeUrl, value: Buffer.from(ociJson(value)) };
}

/** Decodes a Tasks.Metrics payload by its type URL (either cgroup version). */
export function decodeMetrics(data: { typeUrl?: string; value?: Buffer } | undefined): TaskMetrics | undefined {
  if (!data?.value) return undefined;
  const url = data.typeUrl ?? '';
  const name = url.slice(url.lastIndexOf('/') + 1);
  if (name === 'io.containerd.cgroups.v1.Metrics') return { cgroup: 'v1', data: V1Metrics.decode(data.value) };
  if (name === 'io.containerd.cgroups.v2.Metrics') return { cgroup: 'v2', data: V2Metrics.decode(data.value) };
  throw new SystemError(`unknown metrics type "${url}"`);
}
