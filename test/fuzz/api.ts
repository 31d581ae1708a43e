// Plain JSON API calls the fuzzer makes outside the fuzzed traffic (pools, leftover checks).

import { type Berth } from '../integration/harness';

export async function api(b: Berth, method: string, p: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await b.request(
    method,
    p,
    body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } },
  );
  let json: unknown = null;
  try {
    json = JSON.parse(r.body);
  } catch {
    json = r.body;
  }
  return { status: r.status, json };
}

export const idOf = (j: unknown): string | undefined =>
  typeof j === 'object' && j !== null && 'Id' in j && typeof j.Id === 'string' ? j.Id : undefined;

/** Makes sure the pool objects exist (the fuzz removes them now and then). */
