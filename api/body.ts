// Request bodies. JSON (application/json) is buffered and syntax-checked up front, so a
// malformed body is a 400 with Go's decoder wording; every other body (image tars for load and
// import, archives for PUT .../archive, build contexts) is left as the raw request stream and
// never buffered, whatever its size.

import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidParameter } from '../lib/errors';
import { decodeGoValue, type GoType } from './go-decode';
import { decodeGoJson, JsonSyntaxError, parseMediaType, type DecodedJson } from './json';

/** Largest JSON body accepted (dockerd has none; JSON bodies are configs, never data). */
export const JSON_BODY_LIMIT = 64 * 1024 * 1024;

/** What request.body holds after the JSON parser: the bytes and their first decoded value. */
export class JsonBody {
  constructor(
    readonly raw: Buffer,
    readonly decoded: DecodedJson | 'EOF',
  ) {}
}

/** Installs the body parsers on a fastify instance (replacing fastify's defaults). */
export function registerBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: JSON_BODY_LIMIT }, (_req, raw, done) => {
    const buf = raw as Buffer;
    if (buf.length === 0) {
      // An empty body is not invalid (a Content-Type header alone does not make a body).
      done(null, undefined);
      return;
    }
    try {
      done(null, new JsonBody(buf, decodeGoJson(buf.toString('utf8'))));
    } catch (err) {
      if (err instanceof JsonSyntaxError) done(new InvalidParameter(`invalid JSON: ${err.message}`), undefined);
      else done(err as Error, undefined);
    }
  });
  // Anything else, including requests without a Content-Type: hand the stream through untouched.
  app.addContentTypeParser('*', (_req, payload, done) => {
    done(null, payload);
  });
}

/**
 * The request's JSON body as dockerd's httputils.ReadJSON reads it: undefined when there is no
 * body; InvalidParameter with dockerd's texts for a wrong Content-Type, an empty document or
 * trailing content. The value is whatever JSON was sent: callers check its shape.
 */
export function readJsonBody(request: FastifyRequest): unknown {
  const ct = request.headers['content-type'];
  const body = request.body;
  if ((ct === undefined || ct === '') && body === undefined) return undefined;
  checkJsonContentType(ct ?? '');
  if (body === undefined) return undefined;
  if (!(body instanceof JsonBody)) {
    // checkJsonContentType let it through, so it is JSON; an unparsed body cannot happen here.
    throw new InvalidParameter('invalid JSON: body was not decoded');
  }
  if (body.decoded === 'EOF') throw new InvalidParameter('invalid JSON: got EOF while reading request body');
  if (body.decoded.trailing) throw new InvalidParameter('unexpected content after JSON');
  return body.decoded.value;
}

/**
 * The request's JSON body decoded into a Go type as dockerd decodes it (see api/go-decode.ts):
 * wrong types are 400s with Go's texts, integers are range-checked from their exact text,
 * unknown fields are dropped. undefined when there is no body; null for a `null` body.
 */
export function readTypedJsonBody(request: FastifyRequest, type: GoType): unknown {
  const value = readJsonBody(request);
  if (value === undefined || value === null) return value;
  const body = request.body as JsonBody;
  // Parsed again in exact mode: the first pass turned numbers into doubles.
  const exact = decodeGoJson(body.raw.toString('utf8'), { exact: true });
  return exact === 'EOF' ? undefined : decodeGoValue(exact.value, type);
}

/** dockerd's CheckForJSON: the Content-Type must be application/json. */
export function checkJsonContentType(contentType: string): void {
  const parsed = parseMediaType(contentType);
  if ('error' in parsed) throw new InvalidParameter(`malformed Content-Type header (${contentType}): ${parsed.error}`);
  if (parsed.mediaType !== 'application/json') {
    throw new InvalidParameter(`unsupported Content-Type header (${contentType}): must be 'application/json'`);
  }
}

/** The raw request body as a stream, whatever its Content-Type (empty when there was none). */
export function bodyStream(request: FastifyRequest): Readable {
  const body = request.body;
  if (body instanceof JsonBody) return Readable.from([body.raw]);
  if (body instanceof Readable) return body;
  return Readable.from([]);
}
