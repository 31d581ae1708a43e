// The fuzzer's model of the Engine API spec (Swagger 2.0): every operation with its path, query,
// header and body parameters, and body schemas with $ref and allOf resolved on demand (the
// definitions are recursive, so resolution is lazy and the generators bound the depth).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

export interface Schema {
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  enum?: unknown[];
  allOf?: Schema[];
  $ref?: string;
  'x-nullable'?: boolean;
}

export interface Param {
  name: string;
  in: 'path' | 'query' | 'header' | 'body';
  type?: string;
  format?: string;
  items?: Schema;
  enum?: unknown[];
  required: boolean;
  schema?: Schema;
}

export interface Operation {
  method: string;
  /** The spec's path template, e.g. `/containers/{id}/json`. */
  path: string;
  operationId: string;
  tag: string;
  params: Param[];
  consumes: string[];
}

export interface SpecModel {
  operations: Operation[];
  definitions: Record<string, Schema>;
}

const METHODS = ['get', 'head', 'post', 'put', 'delete'];

/** The spec in api/spec (dist/test/fuzz -> repository root; tsc does not copy the yaml). */
export function defaultSpecPath(): string {
  return path.resolve(__dirname, '..', '..', '..', 'api', 'spec', 'engine-api-v1.53.yaml');
}

interface RawOp {
  operationId?: string;
  tags?: string[];
  parameters?: (Param & { required?: boolean })[];
  consumes?: string[];
}

export function loadSpec(file = defaultSpecPath()): SpecModel {
  const doc = parse(fs.readFileSync(file, 'utf8')) as {
    paths: Record<string, Record<string, RawOp>>;
    definitions: Record<string, Schema>;
  };
  const operations: Operation[] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [m, op] of Object.entries(ops)) {
      if (!METHODS.includes(m)) continue;
      operations.push({
        method: m.toUpperCase(),
        path: p,
        operationId: op.operationId ?? `${m} ${p}`,
        tag: (op.tags?.[0] ?? 'unknown').toLowerCase(),
        params: (op.parameters ?? []).map((x) => ({ ...x, required: x.required === true })),
        consumes: op.consumes ?? ['application/json'],
      });
    }
  }
  return { operations, definitions: doc.definitions };
}

/**
 * `s` with its $ref followed and allOf merged (one level: nested schemas stay lazy). Unknown
 * refs resolve to an empty schema (anything goes).
 */
export function resolveSchema(model: Pick<SpecModel, 'definitions'>, s: Schema | undefined, seen = 0): Schema {
  if (!s || seen > 16) return {};
  if (s.$ref) {
    const name = s.$ref.replace(/^#\/definitions\//, '');
    return resolveSchema(model, model.definitions[name], seen + 1);
  }
  if (s.allOf) {
    const merged: Schema = { type: 'object', properties: {} };
    for (const part of s.allOf) {
      const r = resolveSchema(model, part, seen + 1);
      if (r.type && r.type !== 'object') merged.type = r.type;
      Object.assign(merged.properties as Record<string, Schema>, r.properties ?? {});
      if (r.additionalProperties !== undefined) merged.additionalProperties = r.additionalProperties;
    }
    if (s.properties) Object.assign(merged.properties as Record<string, Schema>, s.properties);
    return merged;
  }
  return s;
}

/** The names of `op`'s path parameters, in order of the template. */
export function pathParams(op: Operation): string[] {
  return [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
}

/** The body schema of `op`, resolved, when it takes a JSON body. */
export function bodySchema(model: SpecModel, op: Operation): Schema | undefined {
  const b = op.params.find((p) => p.in === 'body');
  if (!b) return undefined;
  return resolveSchema(model, b.schema);
}
