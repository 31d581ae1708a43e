// Writing responses the way dockerd's httputils.WriteJSON does: Content-Type application/json
// (no charset), the JSON text followed by a newline. Int64 fields beyond 2^53 (bigints) are
// written as their exact digits, as Go writes an int64.

import type { FastifyReply } from 'fastify';
import { exactStringify } from '../lib/int64';

export function sendJson(reply: FastifyReply, value: unknown, status = 200): FastifyReply {
  // A Buffer payload keeps the Content-Type as given (fastify appends a charset to JSON strings).
  return reply
    .code(status)
    .type('application/json')
    .send(Buffer.from(exactStringify(value) + '\n'));
}

/** An empty response (204 No Content and the like). */
export function sendEmpty(reply: FastifyReply, status = 204): FastifyReply {
  return reply.code(status).send();
}
