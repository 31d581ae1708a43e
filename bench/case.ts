// What a benchmark case is, and the small helpers the cases share.
import type { Engine } from './engines';

export type Case = {
  name: string;
  /** Measured rounds (after one warm-up round); the --runs default when unset. */
  runs?: number;
  /**
   * Consecutive cases with the same group share their setup and teardown: setup runs before the
   * first of them only, teardown after the last (so an expensive fixture is built once).
   */
  group?: string;
  setup?: (e: Engine) => Promise<void>;
  /**
   * One measurement. It may also return figures of its own (name with its unit, e.g. `RSS MB`),
   * reported per engine as medians over the rounds, with their ratio.
   */
  step: (e: Engine) => Promise<void | Figures>;
  reset?: (e: Engine) => Promise<void>;
  /** After the last round, before the engines stop (untimed). */
  teardown?: (e: Engine) => Promise<void>;
  /** Only on these engines (by name); every engine when unset. */
  engines?: string[];
  /** Also report the daemon's peak RSS (with its containerd) during the step. */
  memory?: boolean;
  /** false: the step's wall time means nothing (a memory reading), only its figures are reported. */
  timed?: boolean;
  /** false: no warm-up round (a step that is long and warms itself up). */
  warmup?: boolean;
};

/** Extra figures of one step, by name (the name carries the unit). */
export type Figures = Record<string, number>;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function must(p: Promise<{ code: number; stderr: string }>): Promise<void> {
  const r = await p;
  if (r.code !== 0) throw new Error(r.stderr);
}

/** Runs docker and returns its trimmed stdout, failing on a non-zero exit. */
export async function output(p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

/** Runs fn over items, `size` at a time; the first error is thrown once every worker has ended. */
export async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]).catch((err: unknown) => void errors.push(err));
  };
  // Every worker runs to the end, so nothing is still talking to an engine when this returns.
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}
