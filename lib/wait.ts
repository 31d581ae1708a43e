// Waiting for a promise at most so long, without leaving a timer behind it.

/**
 * True when `p` settles (fulfilled or rejected) within `ms`, false when the time runs out first;
 * never rejects. The timer is cleared as soon as `p` settles, so it never keeps the process up.
 */
export function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = (): true => true;
  // setTimeout would fire at once for an infinite delay (it is clamped to 1 ms).
  if (ms === Infinity) return p.then(settled, settled);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    p.then(done, done);
  });
}
