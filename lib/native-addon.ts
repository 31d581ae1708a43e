// Loads Berth's native addon (native/safefs.c, built by scripts/build-native.sh into
// dist/native/safefs.node). One loader for every layer that calls into it; each caller declares
// the functions it uses.
import * as path from 'node:path';

let cached: unknown;

export function nativeAddon<T>(): T {
  if (cached !== undefined) return cached as T;
  // dist/lib/native-addon.js -> dist/native/safefs.node; from the sources, native/build.
  const candidates = [
    path.join(__dirname, '..', 'native', 'safefs.node'),
    path.join(__dirname, '..', '..', 'native', 'build', 'Release', 'safefs.node'),
  ];
  let last: unknown;
  for (const file of candidates) {
    try {
      cached = require(file) as unknown;
      return cached as T;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`safefs addon not built (run scripts/build-native.sh): ${last instanceof Error ? last.message : String(last)}`);
}
