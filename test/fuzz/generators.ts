// fast-check arbitraries for fuzz cases: a route of the spec, path arguments (live objects from
// the runner's pools or hostile names), query values by type (plus hostile ones and bad
// filters), a body from the route's schema with hostile mutations (wrong types, nulls, huge and
// 64-bit integers, deep nesting, NUL and broken unicode, traversal paths, capped huge strings) or
// a broken body (bad JSON, non-JSON, truncated), and a protocol mode (normal, clients that vanish
// at various points, Connection: Upgrade and vanish, slow readers, truncated bodies, raw garbage).
import fc from 'fast-check';
import { bodySchema, pathParams, resolveSchema, type Operation, type Schema, type SpecModel } from './spec-model';

export type Pool = 'container' | 'image' | 'network' | 'volume' | 'exec';

/** A path argument: an object of a pool (picked at run time by k) or a literal string. */
export type PathArg = { pool: Pool; k: number } | { literal: string };

export type Mode =
  'normal' | 'vanish-after-send' | 'vanish-after-headers' | 'upgrade-vanish' | 'slow-reader' | 'truncated-body' | 'raw-garbage';

export type BodyKind = 'none' | 'schema' | 'bad-json' | 'non-json' | 'empty' | 'deep' | 'wrong-top' | 'huge';

export interface FuzzCase {
  operationId: string;
  method: string;
  template: string;
  pathArgs: PathArg[];
  query: [string, string][];
  headers: Record<string, string>;
  bodyKind: BodyKind;
  /** JSON value (serialized with serializeJson) or raw text, by bodyKind. */
  body?: unknown;
  raw?: string;
  mode: Mode;
}

/** Markers that serializeJson turns into raw JSON JSON.stringify cannot write. */
const BIG = '\u0001BIG:';
const DEEP = '\u0001DEEP:';
export const bigNumber = (text: string): string => `${BIG}${text}`;
export const deepNest = (depth: number): string => `${DEEP}${depth}`;

/** JSON text of `v`, with bigNumber/deepNest markers expanded. */
export function serializeJson(v: unknown): string {
  const s = JSON.stringify(v) ?? 'null';
  return s.replace(/"\\u0001BIG:([-+0-9.eE]+)"/g, '$1').replace(/"\\u0001DEEP:(\d+)"/g, (_m, d: string) => {
    const n = Number(d);
    return `${'{"a":['.repeat(n)}${']}'.repeat(n)}`;
  });
}

const HUGE_STRING = 64 * 1024;

export const hostileString = fc.constantFrom(
  '',
  ' ',
  '../../etc',
  '../../../../../../etc/passwd',
  '/etc/shadow',
  '/',
  '.',
  '..',
  'a\u0000b',
  '\u0000',
  '\ud800',
  '\u202e\u00e9\ud83d\ude00',
  '%00',
  '%2e%2e%2f',
  '$(id)',
  '`id`',
  '${HOME}',
  'a'.repeat(300),
  'x'.repeat(HUGE_STRING),
  '-1',
  'NaN',
  '1e400',
  '9223372036854775808',
  'true',
  'null',
  '{}',
  '[]',
  '\r\nX-Injected: 1',
  'busybox',
  'busybox:latest',
  'sha256:',
  'sha256:' + '0'.repeat(64),
  '^([0-9a-f]+)+x$',
  '(a+)+$',
  '0-99999',
  'size=-1',
  'A=\u0000',
  'max-file=100000',
);

export const hostileNumber = fc.constantFrom(
  0,
  -1,
  1,
  0.5,
  -0.0,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  -(2 ** 53),
  1e18,
  1e308,
  bigNumber('9223372036854775807'),
  bigNumber('9223372036854775808'),
  bigNumber('-9223372036854775809'),
  bigNumber('18446744073709551616'),
  bigNumber('1e400'),
  bigNumber('-1e-400'),
);

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.constantFrom(null, true, false, [], {}, [null], [[]], { '': null }, [1], ['a', 1], { a: { b: { c: null } } }),
  fc.integer({ min: 1, max: 3000 }).map((d) => deepNest(d * 10)),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

const plausibleString = fc.oneof(
  fc.constantFrom(
    'busybox',
    'true',
    'sh',
    '/tmp',
    '/data',
    'a',
    'fz-name',
    'json-file',
    'bridge',
    'none',
    'local',
    '80/tcp',
    'max-size',
    'max-file',
    '1',
    '100000',
    'nofile',
    'A=b',
  ),
  fc.string({ maxLength: 16 }),
  fc.stringMatching(/^[a-z][a-z0-9_.-]{0,20}$/),
);

const plausibleInt = fc.oneof(fc.integer({ min: -2, max: 1024 }), fc.constantFrom(0, 1, 1024, 1048576, 1e9));

/** A value shaped by `schema` (depth-bounded), with a hostile value in about one in ten. */
export function valueFor(model: SpecModel, schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  const typed = typedValue(model, resolveSchema(model, schema), depth);
  return fc.oneof({ weight: 9, arbitrary: typed }, { weight: 1, arbitrary: hostileValue });
}

function typedValue(model: SpecModel, s: Schema, depth: number): fc.Arbitrary<unknown> {
  if (s.enum && s.enum.length > 0) return fc.constantFrom(...s.enum);
  const props = s.properties ?? {};
  const type = s.type ?? (Object.keys(props).length > 0 ? 'object' : undefined);
  switch (type) {
    case 'string':
      return plausibleString;
    case 'integer':
    case 'number':
      return plausibleInt;
    case 'boolean':
      return fc.boolean();
    case 'array':
      if (depth > 4) return fc.constant([]);
      return fc.array(valueFor(model, s.items, depth + 1), { maxLength: 3 });
    case 'object': {
      if (depth > 4) return fc.constant({});
      const keys = Object.keys(props);
      const fixed =
        keys.length === 0
          ? fc.constant({} as Record<string, unknown>)
          : fc
              .subarray(keys, { maxLength: Math.min(5, keys.length) })
              .chain((ks) => fc.record(Object.fromEntries(ks.map((k) => [k, valueFor(model, props[k], depth + 1)]))));
      const ap = s.additionalProperties;
      if (ap === undefined || ap === false) return fixed;
      const extra = fc.dictionary(plausibleString, valueFor(model, ap === true ? {} : ap, depth + 1), { maxKeys: 3 });
      return fc.tuple(fixed, extra).map(([a, b]) => ({ ...b, ...a }));
    }
    default:
      return fc.oneof(plausibleString, plausibleInt, fc.boolean(), fc.constant(null));
  }
}

const POOL_OF: Record<string, Pool> = { container: 'container', image: 'image', network: 'network', volume: 'volume', exec: 'exec' };

function poolFor(op: Operation): Pool | undefined {
  if (op.path.startsWith('/exec/')) return 'exec';
  if (op.path.startsWith('/containers/')) return 'container';
  if (op.path.startsWith('/images/')) return 'image';
  if (op.path.startsWith('/networks/')) return 'network';
  if (op.path.startsWith('/volumes/')) return 'volume';
  return POOL_OF[op.tag];
}

export function pathArgArb(op: Operation): fc.Arbitrary<PathArg> {
  const pool = poolFor(op);
  const literal = fc.oneof(hostileString, plausibleString).map((s): PathArg => ({ literal: s }));
  if (!pool) return literal;
  return fc.oneof({ weight: 3, arbitrary: fc.nat(15).map((k): PathArg => ({ pool, k })) }, { weight: 1, arbitrary: literal });
}

const filtersArb = fc.oneof(
  fc
    .dictionary(
      fc.constantFrom(
        'id',
        'name',
        'label',
        'status',
        'dangling',
        'reference',
        'before',
        'since',
        'driver',
        'type',
        'until',
        'ancestor',
        'network',
        'volume',
        'health',
        'event',
        'container',
        'scope',
        'x',
      ),
      fc.oneof(
        fc.array(fc.oneof(hostileString, plausibleString), { maxLength: 3 }),
        fc.dictionary(fc.oneof(hostileString, plausibleString), fc.boolean(), { maxKeys: 2 }),
        hostileValue,
      ),
      { maxKeys: 3 },
    )
    .map((d) => serializeJson(d)),
  fc.constantFrom('{', 'null', '[]', '{"id":"x"}', '{"id":[1]}', '{"id":{"a":"b"}}', 'not json', '{"id":["' + '(a+)+'.repeat(20) + 'b"]}'),
  fc.constant(`{"id":["^([0-9a-f]+)+x$"],"name":["${'(x+x+)+y'}"]}`),
);

function queryValueArb(type: string | undefined, format: string | undefined, name: string): fc.Arbitrary<string> {
  if (name === 'filters' || format === 'json') return filtersArb;
  const hostile = fc.oneof(
    hostileString,
    hostileNumber.map((n) => String(n).replace('\u0001BIG:', '')),
  );
  switch (type) {
    case 'integer':
      return fc.oneof({ weight: 3, arbitrary: fc.integer({ min: -5, max: 100 }).map(String) }, { weight: 1, arbitrary: hostile });
    case 'boolean':
      return fc.oneof(fc.constantFrom('1', '0', 'true', 'false', 'True', 'yes', ''), hostile);
    default:
      return fc.oneof({ weight: 2, arbitrary: plausibleString }, { weight: 1, arbitrary: hostile });
  }
}

function queryArb(op: Operation): fc.Arbitrary<[string, string][]> {
  const qs = op.params.filter((p) => p.in === 'query');
  const known = qs.map((p) =>
    queryValueArb(p.type === 'array' ? p.items?.type : p.type, p.format, p.name).map((v): [string, string] => [p.name, v]),
  );
  const unknown = fc
    .tuple(fc.constantFrom('x', 'filters', 'all', 'force', 't', '', '%zz'), hostileString)
    .map(([k, v]): [string, string] => [k, v]);
  if (known.length === 0) return fc.array(unknown, { maxLength: 1 });
  return fc
    .tuple(
      fc.subarray(
        known.map((_, i) => i),
        { maxLength: Math.min(4, known.length) },
      ),
      fc.array(unknown, { maxLength: 1 }),
    )
    .chain(([idx, extra]) => fc.tuple(...idx.map((i) => known[i])).map((vals) => [...vals, ...extra]));
}

const modeArb: fc.Arbitrary<Mode> = fc.oneof(
  { weight: 40, arbitrary: fc.constant<Mode>('normal') },
  { weight: 2, arbitrary: fc.constant<Mode>('vanish-after-send') },
  { weight: 2, arbitrary: fc.constant<Mode>('vanish-after-headers') },
  { weight: 2, arbitrary: fc.constant<Mode>('upgrade-vanish') },
  { weight: 2, arbitrary: fc.constant<Mode>('slow-reader') },
  { weight: 1, arbitrary: fc.constant<Mode>('truncated-body') },
  { weight: 1, arbitrary: fc.constant<Mode>('raw-garbage') },
);

function bodyArb(model: SpecModel, op: Operation): fc.Arbitrary<{ bodyKind: BodyKind; body?: unknown; raw?: string }> {
  const schema = bodySchema(model, op);
  const json = op.params.some((p) => p.in === 'body') && (op.consumes.includes('application/json') || schema !== undefined);
  if (!json) {
    // Archives and streams: random bytes, or nothing.
    return fc.oneof(
      fc.constant({ bodyKind: 'none' as BodyKind }),
      fc.string({ unit: 'binary', maxLength: 600 }).map((raw) => ({ bodyKind: 'non-json' as BodyKind, raw })),
    );
  }
  let schemaValue: fc.Arbitrary<unknown> = valueFor(model, schema);
  if (op.operationId === 'ContainerCreate') {
    // Mostly a runnable base, so the case reaches create's deeper checks and start.
    // A HostConfig of its own most of the time: it holds most of what create must validate.
    const hc = valueFor(model, resolveSchema(model, schema).properties?.HostConfig);
    schemaValue = fc
      .tuple(fc.nat(3), schemaValue, hc)
      .map(([base, v, h]) =>
        base > 0 && typeof v === 'object' && v !== null && !Array.isArray(v) ? { Image: 'busybox', Cmd: ['true'], HostConfig: h, ...v } : v,
      );
  }
  return fc.oneof(
    { weight: 12, arbitrary: schemaValue.map((body) => ({ bodyKind: 'schema' as BodyKind, body })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom('{', '{"Image":', '{"a":1,}', "{'a':1}", '[', '{"Image":"busybox"', 'nul', '"')
        .map((raw) => ({ bodyKind: 'bad-json' as BodyKind, raw })),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((raw) => ({ bodyKind: 'non-json' as BodyKind, raw })) },
    { weight: 1, arbitrary: fc.constant({ bodyKind: 'empty' as BodyKind, raw: '' }) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 500, max: 20000 }).map((d) => ({ bodyKind: 'deep' as BodyKind, raw: serializeJson(deepNest(d)) })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom<unknown>([], 'str', 1, null, true, [{}]).map((body) => ({ bodyKind: 'wrong-top' as BodyKind, body })),
    },
    {
      weight: 1,
      arbitrary: fc.constant({
        bodyKind: 'huge' as BodyKind,
        raw: JSON.stringify({ Image: 'busybox', Labels: { a: 'x'.repeat(1 << 20) } }),
      }),
    },
  );
}

const headerArb: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Record<string, string>>({}) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, string>>(
      { 'Content-Type': 'text/plain' },
      { 'Content-Type': 'application/json; charset=latin1' },
      { 'X-Registry-Auth': '!!notbase64' },
      { 'X-Registry-Auth': 'eyJ1c2VybmFtZSI6MX0=' },
      { 'Content-Type': 'application/x-tar' },
    ),
  },
);

/** One fuzz case for `op`. */
export function caseArb(model: SpecModel, op: Operation): fc.Arbitrary<FuzzCase> {
  const names = pathParams(op);
  return fc
    .record({
      pathArgs: fc.tuple(...names.map(() => pathArgArb(op))),
      query: queryArb(op),
      headers: headerArb,
      body: bodyArb(model, op),
      mode: modeArb,
    })
    .map((r) => ({
      operationId: op.operationId,
      method: op.method,
      template: op.path,
      pathArgs: r.pathArgs,
      query: r.query,
      headers: r.headers,
      bodyKind: r.body.bodyKind,
      body: r.body.body,
      raw: r.body.raw,
      mode: r.mode,
    }));
}

/** Cases over every route of the spec (weighted, see WEIGHTS). */
export function anyCaseArb(model: SpecModel): fc.Arbitrary<FuzzCase> {
  return fc.oneof(...model.operations.map((op) => ({ weight: WEIGHTS[op.operationId] ?? 1, arbitrary: caseArb(model, op) })));
}

/** Routes whose bodies hold most settings (and most of the daemon's validation) come up more. */
const WEIGHTS: Record<string, number> = {
  ContainerCreate: 12,
  ContainerUpdate: 5,
  ExecCreate: 3,
  NetworkCreate: 3,
  VolumeCreate: 2,
  ContainerList: 2,
  NetworkList: 2,
};
