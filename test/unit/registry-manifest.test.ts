import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatPlatform,
  hostPlatform,
  MediaType,
  parseManifest,
  parsePlatform,
  selectPlatform,
  matchPlatforms,
} from '../../registry/manifest';
import { RegistryError, type Descriptor } from '../../registry/types';

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const fm = (mediaType: string, v: unknown) => ({ mediaType, digest: D('0'), body: Buffer.from(JSON.stringify(v)) });
const invalid = (e: unknown): boolean => e instanceof RegistryError && e.code === 'MANIFEST_INVALID';

test('parseManifest: Docker schema 2, OCI without mediaType, index, schema 1', () => {
  const m = parseManifest(
    fm(MediaType.dockerManifest, {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: D('c'), size: 10 },
      layers: [
        { mediaType: MediaType.dockerLayer, digest: D('a'), size: 100 },
        { mediaType: MediaType.dockerForeignLayer, digest: D('b'), size: 5, urls: ['https://x/y'] },
      ],
    }),
  );
  assert.equal(m.kind, 'manifest');
  assert.ok(m.kind === 'manifest' && m.layers.length === 2 && m.config.size === 10 && m.layers[1].urls?.[0] === 'https://x/y');

  const oci = parseManifest(
    fm(MediaType.ociManifest, {
      schemaVersion: 2,
      config: { mediaType: MediaType.ociConfig, digest: D('c'), size: 1 },
      layers: [{ mediaType: MediaType.ociLayerZstd, digest: D('d'), size: 3 }],
    }),
  );
  assert.equal(oci.kind, 'manifest');
  assert.equal(oci.mediaType, MediaType.ociManifest);

  const idx = parseManifest(
    fm(MediaType.ociIndex, {
      schemaVersion: 2,
      manifests: [
        { mediaType: MediaType.ociManifest, digest: D('e'), size: 9, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
    }),
  );
  assert.ok(idx.kind === 'index' && idx.manifests[0].platform?.architecture === 'arm64');

  assert.equal(parseManifest(fm(MediaType.schema1Signed, { schemaVersion: 1 })).kind, 'schema1');
  assert.equal(parseManifest(fm('application/json', { schemaVersion: 1, name: 'x' })).kind, 'schema1');
  // Generic content type: the structure decides.
  assert.equal(parseManifest(fm('application/json', { schemaVersion: 2, manifests: [] })).kind, 'index');
});

test('parseManifest refuses malformed content', () => {
  const cfg = { mediaType: MediaType.ociConfig, digest: D('c'), size: 1 };
  const bad: unknown[] = [
    { schemaVersion: 3, config: cfg, layers: [] },
    { schemaVersion: 2, layers: [] },
    { schemaVersion: 2, config: cfg },
    { schemaVersion: 2, config: { ...cfg, digest: 'sha256:xyz' }, layers: [] },
    { schemaVersion: 2, config: { ...cfg, size: -1 }, layers: [] },
    { schemaVersion: 2, config: { ...cfg, size: 2 ** 60 }, layers: [] },
    { schemaVersion: 2, config: { ...cfg, size: '1' }, layers: [] },
    { schemaVersion: 2, config: cfg, layers: [{ digest: D('a'), size: 1 }] },
    {
      schemaVersion: 2,
      config: cfg,
      layers: Array.from({ length: 1001 }, () => ({ mediaType: MediaType.ociLayerGzip, digest: D('a'), size: 1 })),
    },
    { schemaVersion: 2, mediaType: MediaType.dockerManifest, config: cfg, layers: [] },
    [],
  ];
  for (const b of bad) assert.throws(() => parseManifest(fm(MediaType.ociManifest, b)), invalid, JSON.stringify(b).slice(0, 80));
  assert.throws(() => parseManifest({ mediaType: MediaType.ociManifest, digest: D('0'), body: Buffer.from('{') }), invalid);
  assert.throws(() => parseManifest(fm('application/vnd.example+json', { schemaVersion: 2 })), invalid);
});

test('parsePlatform / formatPlatform normalise names', () => {
  const cases: [string, string][] = [
    ['linux/arm64/v8', 'linux/arm64/v8'],
    ['linux/aarch64', 'linux/arm64/v8'],
    ['linux/arm64', 'linux/arm64/v8'],
    ['linux/x86_64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/armel', 'linux/arm/v6'],
    ['linux/i386', 'linux/386'],
    ['Linux/AMD64', 'linux/amd64'],
    ['arm64', 'linux/arm64/v8'],
  ];
  for (const [input, want] of cases) assert.equal(formatPlatform(parsePlatform(input)), want, input);
  assert.equal(formatPlatform(parsePlatform('linux')), formatPlatform(hostPlatform()));
  for (const b of ['', 'linux//amd64', 'a/b/c/d', 'linux/am d64']) assert.throws(() => parsePlatform(b), RegistryError, b);
  // containerd's texts (checked against dockerd 20.10's build --platform).
  assert.throws(() => parsePlatform('a/b/c/d'), { message: '"a/b/c/d": cannot parse platform specifier: invalid argument' });
  assert.throws(() => parsePlatform('foo'), { message: '"foo": unknown operating system or architecture: invalid argument' });
  assert.throws(() => parsePlatform('linux/*'), { message: '"linux/*": wildcards not yet supported: invalid argument' });
  assert.throws(
    () => parsePlatform('linux/am+d64'),
    /^RegistryError: "am\+d64" is an invalid component of "linux\/am\+d64": platform specifier component must match/,
  );
  assert.equal(formatPlatform(parsePlatform('x86_64')), 'linux/amd64');
  if (process.arch === 'x64') assert.equal(formatPlatform(hostPlatform()), 'linux/amd64');
});

const entry = (c: string, os: string, architecture: string, variant?: string, annotations?: Record<string, string>): Descriptor => ({
  mediaType: MediaType.ociManifest,
  digest: D(c),
  size: 1,
  platform: { os, architecture, ...(variant ? { variant } : {}) },
  ...(annotations ? { annotations } : {}),
});

test('selectPlatform: containerd matcher table', () => {
  const index = [
    entry('a', 'unknown', 'unknown', undefined, { 'vnd.docker.reference.type': 'attestation-manifest' }),
    entry('1', 'linux', '386'),
    entry('2', 'linux', 'amd64'),
    entry('3', 'linux', 'amd64', 'v3'),
    entry('4', 'linux', 'arm', 'v6'),
    entry('5', 'linux', 'arm', 'v7'),
    entry('6', 'linux', 'arm64'),
    entry('7', 'windows', 'amd64'),
  ];
  const pick = (spec: string, list: Descriptor[] = index): string | undefined =>
    selectPlatform({ manifests: list }, parsePlatform(spec))?.digest.slice(7, 8);
  const table: [string, string | undefined][] = [
    ['linux/amd64', '2'],
    ['linux/amd64/v3', '3'],
    ['linux/amd64/v4', '3'],
    ['linux/amd64/v2', '2'],
    ['linux/arm64/v8', '6'],
    ['linux/aarch64', '6'],
    ['linux/arm/v7', '5'],
    ['linux/arm/v8', '5'],
    ['linux/arm/v6', '4'],
    ['linux/arm/v5', undefined],
    ['linux/386', '1'],
    ['windows/amd64', '7'],
    ['linux/s390x', undefined],
    ['linux/riscv64', undefined],
  ];
  for (const [spec, want] of table) assert.equal(pick(spec), want, spec);
  // arm64 without its own entry falls back to 32-bit arm, best variant first.
  assert.equal(
    pick(
      'linux/arm64',
      index.filter((d) => d.platform?.architecture !== 'arm64'),
    ),
    '5',
  );
  // amd64 without its own entry takes 386, as containerd's Only does.
  assert.equal(pick('linux/amd64', [index[1], index[4]]), '1');
  // Attestations never match, even asked for unknown/unknown.
  assert.equal(pick('unknown/unknown'), undefined);
  assert.deepEqual(
    matchPlatforms(index, parsePlatform('linux/amd64/v3')).map((d) => d.digest.slice(7, 8)),
    ['3', '2', '1'],
  );
  // Variants in an entry are normalised too (arm64 with "8").
  assert.equal(pick('linux/arm64', [entry('9', 'linux', 'aarch64', '8')]), '9');
});
