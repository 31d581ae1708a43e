// What the image integration suites share: one berthd per test file (useImagesBerth registers its
// hooks), the busybox fixture with its expected IDs, and docker/API helpers.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before } from 'node:test';
import { buildBusyboxArchive, buildBusyboxLayer, type BusyboxArchiveOptions } from '../fixtures/busybox-image';
import { archiveImageId, sha256, smallImage } from './archive-tools';
import { destroyBerth, startBerth, type Berth, type RunResult } from './harness';

export let b: Berth;
/** The plain busybox fixture tagged busybox:latest, its image ID and its layer's diff ID. */
export let busybox: Buffer;
export let BB_ID: string;
export let BB_DIFF: string;

/** Starts this file's berthd and builds the fixture before its tests; removes it after them. */
export function useImagesBerth(): void {
  before(async () => {
    b = await startBerth();
    busybox = await buildBusyboxArchive({ tags: ['busybox:latest'] });
    BB_ID = await archiveImageId(busybox);
    BB_DIFF = sha256(await buildBusyboxLayer());
  });

  after(async () => {
    if (b) await destroyBerth(b);
  });
}

export async function docker(args: string[], input?: Buffer | string): Promise<RunResult> {
  return b.docker(args, { input, timeoutMs: 60_000 });
}

/** Runs docker and requires success; returns stdout. */
export async function ok(args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}\nberthd log:\n${b.log().slice(-3000)}`);
  return r.stdout;
}

/** Runs docker and requires failure with exactly this message on stderr. */
export async function fails(args: string[], message: string, input?: Buffer | string): Promise<void> {
  const r = await docker(args, input);
  assert.notEqual(r.code, 0, `docker ${args.join(' ')} should have failed; stdout: ${r.stdout}`);
  assert.equal(r.stderr.trim(), message);
}

export const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

/**
 * Asserts `rows` are the groups in order, each group in any order: the CLI sorts image rows by
 * creation time with an unstable sort, so rows of one image (same time) come in any order.
 */
export function assertGroups(rows: string[], groups: string[][]): void {
  const got: string[][] = [];
  let i = 0;
  for (const g of groups) {
    got.push(rows.slice(i, i + g.length).sort());
    i += g.length;
  }
  assert.deepEqual(
    { groups: got, rest: rows.slice(i) },
    { groups: groups.map((g) => [...g].sort()), rest: [] },
    `rows: ${JSON.stringify(rows)}`,
  );
}

interface Inspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: string;
  Comment: string;
  Author: string;
  Config: { Cmd?: string[]; Env?: string[]; Labels?: Record<string, string> | null; Entrypoint?: string[] | null };
  Architecture: string;
  Os: string;
  Size: number;
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

export async function inspect(name: string): Promise<Inspect> {
  const all = JSON.parse(await ok(['image', 'inspect', name])) as Inspect[];
  assert.equal(all.length, 1);
  return all[0];
}

interface Summary {
  Id: string;
  RepoTags: string[];
  Labels: Record<string, string>;
  Size: number;
  Created: number;
}

export async function apiImages(query = 'all=1'): Promise<Summary[]> {
  const r = await b.request('GET', `/images/json?${query}`);
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body) as Summary[];
}

/** Removes every image through the raw API, so a test starts from an empty store. */
export async function wipe(): Promise<void> {
  for (const img of await apiImages()) {
    const r = await b.request('DELETE', `/images/${img.Id}?force=1`);
    assert.equal(r.status, 200, r.body);
  }
  assert.deepEqual(await apiImages(), []);
}

export type SmallImage = Awaited<ReturnType<typeof smallImage>>;

/** The busybox fixture plus a file variant.txt holding `variant`: a distinct image per variant. */
export const archFixture = (variant: string, tags: string[], opts: Partial<BusyboxArchiveOptions> = {}): Promise<Buffer> =>
  buildBusyboxArchive({ ...opts, tags, extraFiles: { 'variant.txt': variant } });

export async function saveBytes(names: string[]): Promise<Buffer> {
  const file = path.join(b.dir, `save-${Date.now()}-${Math.random().toString(36).slice(2)}.tar`);
  try {
    await ok(['save', '-o', file, ...names]);
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}
