// re2js (Go's regexp syntax, linear-time matching), loaded on first use: its module and tables are
// ~2 MB resident, and an idle daemon, or one never given a regexp filter or pattern, needs none.
import type * as Re2js from 're2js';

export type RE2JS = Re2js.RE2JS;

let loaded: typeof Re2js | undefined;

/** The RE2JS class (compile, quoteReplacement, flags). */
export function re2(): typeof Re2js.RE2JS {
  loaded ??= require('re2js') as typeof Re2js;
  return loaded.RE2JS;
}
