// Writing responses the way dockerd's httputils.WriteJSON does: Content-Type application/json
// (no charset), the JSON text followed by a newline.

import type { FastifyReply } from 'fastify';

export function sendJson(reply: FastifyReply, value: unknown, status = 200): FastifyReply {
  // A Buffer payload keeps the Content-Type as given (fastify appends a charset to JSON strings).
  return reply.code(status).type('application/json').send(Buffer.from(JSON.stringify(value) + '\n'));
}

/** An empty response (204 No Content and the like). */
export function sendEmpty(reply: FastifyReply, status = 204): FastifyReply {
  return reply.code(status).send();
}
