// What an area's router hands the server: handlers keyed by the spec's operationId. The route
// table (table.ts) owns methods and paths, so a router cannot register a route that is not in
// the spec, nor register one twice.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OperationId } from './table';
import '../request';

/**
 * A route handler. It answers through `reply` (see api/reply.ts and api/streams.ts) and throws
 * the typed errors of daemon/errors.ts; api/errors.ts turns those into statuses.
 */
export type ApiHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export type Operations = Partial<Record<OperationId, ApiHandler>>;
