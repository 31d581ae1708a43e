// The assertion the unit tests share for a refused input: InvalidParameter (dockerd's 400) with
// exactly dockerd's text.
import assert from 'node:assert/strict';
import { InvalidParameter } from '../../lib/errors';

export function invalid(fn: () => unknown, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidParameter, `expected InvalidParameter, got ${String(err)}`);
    assert.equal((err as Error).message, message);
    return true;
  });
}
