// The Engine API shapes swarm mode stores and answers with, the defaults dockerd fills in at
// `swarm init`, and dockerd's (swarmkit's) error texts.

import type { definitions } from '../api-types/gen/engine-api';
import { Conflict, InvalidParameter, NotFound, SystemError, Unavailable } from '../../lib/errors';
import type { TokenRecord } from './seal';

export type Swarm = definitions['Swarm'];
export type SwarmSpec = definitions['SwarmSpec'];
export type ApiNode = definitions['Node'];
export type NodeSpec = definitions['NodeSpec'];
export type NodeDescription = definitions['NodeDescription'];

/** What `P/cluster` holds. */
export interface ClusterRecord {
  ID: string;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: SwarmSpec;
  DefaultAddrPool: string[];
  SubnetSize: number;
  DataPathPort: number;
  tokens: { worker: TokenRecord; manager: TokenRecord };
}

/** What `P/nodes/<id>` holds: the Node without its live parts (state, manager status). */
export interface NodeRecord {
  ID: string;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: NodeSpec;
  Description: NodeDescription;
  /** The advertise address (host only, as dockerd's Status.Addr). */
  Addr: string;
}

/** swarmkit's defaults for a new cluster (what `docker swarm init` shows with no options). */
export function defaultSwarmSpec(): SwarmSpec {
  return {
    Name: 'default',
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: 5 },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: 5_000_000_000 },
    CAConfig: { NodeCertExpiry: 7_776_000_000_000_000 },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false },
  };
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `given` over `base`, where zero values in `given` (0, '', null, absent) keep the default, as dockerd's init. */
export function mergeSpec<T>(base: T, given: unknown): T {
  if (!isObj(base) || !isObj(given)) return base;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(given)) {
    if (v === null || v === undefined || v === 0 || v === '') continue;
    out[k] = isObj(v) && isObj(out[k]) ? mergeSpec(out[k], v) : v;
  }
  return out as T;
}

export const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';
export const NOT_IN_A_SWARM = 'This node is not part of a swarm';
export const NOT_A_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
export const WORKER_NOT_MANAGER =
  "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
export const NO_AUTOLOCK = "autolock is not supported by Berth's swarm mode";

/** A grpc status as dockerd passes it through: `rpc error: code = X desc = …`. */
export function rpcText(code: string, desc: string): string {
  return `rpc error: code = ${code} desc = ${desc}`;
}

export const errors = {
  alreadyInSwarm: () => new Unavailable(ALREADY_IN_SWARM),
  notInSwarm: () => new Unavailable(NOT_IN_A_SWARM),
  notManager: () => new Unavailable(NOT_A_MANAGER),
  workerNotManager: () => new Unavailable(WORKER_NOT_MANAGER),
  noAutolock: () => new InvalidParameter(NO_AUTOLOCK),
  outOfSequence: () => new SystemError(rpcText('Unknown', 'update out of sequence')),
  badToken: () => new InvalidParameter(rpcText('InvalidArgument', 'A valid join token is necessary to join this cluster')),
  precondition: (desc: string) => new InvalidParameter(rpcText('FailedPrecondition', desc)),
  conflict: (msg: string) => new Conflict(msg),
  leaveRefused: (msg: string) => new Unavailable(msg),
  nodeNotFound: (id: string) => new NotFound(`node ${id} not found`),
  nodeAmbiguous: (id: string, n: number) => new InvalidParameter(`node ${id} is ambiguous (${n} matches found)`),
};
