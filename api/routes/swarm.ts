// Swarm-mode areas (swarm, nodes, services, tasks, secrets, configs). Berth never joins a swarm,
// so these answer as dockerd does on a node whose swarm is inactive; only init and join, which
// dockerd would carry out, are refused with Berth's own message (docs/divergence.md).

import { InvalidParameter, Unavailable } from '../../lib/errors';
import { boolValue, queryOf } from '../query';
import type { ApiHandler, Operations } from './operations';
import { ROUTES, SWARM_AREAS, type OperationId } from './table';

/** dockerd's errNoManager text for a node that is not in a swarm. */
export const NOT_A_SWARM_MANAGER =
  'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
/** dockerd's errNoSwarm text (leaving a swarm that was never joined). */
export const NOT_IN_A_SWARM = 'This node is not part of a swarm';
export const SWARM_UNSUPPORTED = 'Swarm mode is not supported by Berth';

const notManager: ApiHandler = async () => {
  throw new Unavailable(NOT_A_SWARM_MANAGER);
};

/** Service and task logs check their stream selection before reaching the cluster. */
const logs: ApiHandler = async (request) => {
  const q = queryOf(request);
  if (!boolValue(q, 'stdout') && !boolValue(q, 'stderr')) {
    throw new InvalidParameter("must specify at least one of 'stdout' or 'stderr'");
  }
  throw new Unavailable(NOT_A_SWARM_MANAGER);
};

export function swarmOperations(): Operations {
  const ops: Operations = {};
  for (const route of ROUTES) {
    if (SWARM_AREAS.has(route.area)) ops[route.operationId as OperationId] = notManager;
  }
  return {
    ...ops,
    SwarmLeave: async () => {
      throw new Unavailable(NOT_IN_A_SWARM);
    },
    SwarmInit: async () => {
      throw new Unavailable(SWARM_UNSUPPORTED);
    },
    SwarmJoin: async () => {
      throw new Unavailable(SWARM_UNSUPPORTED);
    },
    ServiceLogs: logs,
    TaskLogs: logs,
  };
}
