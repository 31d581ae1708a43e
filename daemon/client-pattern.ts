// Client-supplied regular expressions (filter values, log-opt labels-regex/env-regex) compiled
// with re2js, a port of Go's regexp: the same syntax dockerd accepts and matching in time linear in
// the input, so no pattern can hold the event loop (a JS RegExp backtracks: `^([0-9a-f]+)+x$`
// against a 64-character ID never returns). The length cap bounds compile time and memory; Go's
// own limits (repeat counts ≤ 1000, nesting) come with the parser.
import { re2, type RE2JS } from '../lib/re2';
import { InvalidParameter } from '../lib/errors';

/** Longest pattern accepted, in UTF-16 code units (dockerd has no cap; see docs/divergence.md). */
export const MAX_PATTERN_LENGTH = 4096;

export class PatternTooLong extends InvalidParameter {
  constructor(length: number) {
    super(`regular expression too long: ${length} characters (at most ${MAX_PATTERN_LENGTH})`);
  }
}

export class PatternSyntaxError extends Error {}

/** A compiled client pattern: `test` is Go's MatchString (a match anywhere unless anchored). */
export interface ClientPattern {
  readonly source: string;
  test(input: string): boolean;
}

/**
 * Compiles `pattern` with Go's syntax. Throws PatternTooLong (a 400) past the cap and
 * PatternSyntaxError with Go's `error parsing regexp: …` text for a pattern Go would refuse.
 */
export function compileClientPattern(pattern: string): ClientPattern {
  if (pattern.length > MAX_PATTERN_LENGTH) throw new PatternTooLong(pattern.length);
  let re: RE2JS;
  try {
    re = re2().compile(pattern);
  } catch (err) {
    throw new PatternSyntaxError(err instanceof Error ? err.message : String(err));
  }
  return { source: pattern, test: (input: string) => re.test(input) };
}

/**
 * A compiled pattern, or null when it does not compile (moby's filters.Match ignores the error and
 * the value then matches nothing). Overlong patterns still throw PatternTooLong.
 */
export function tryCompileClientPattern(pattern: string): ClientPattern | null {
  try {
    return compileClientPattern(pattern);
  } catch (err) {
    if (err instanceof PatternSyntaxError) return null;
    throw err;
  }
}
