// Fresh json-file log paths for the log unit tests, each in its own directory of one temp dir
// that is removed when the test file ends.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';

export function freshLogPaths(prefix: string): () => string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  let n = 0;
  return () => {
    const dir = path.join(tmp, String(++n));
    fs.mkdirSync(dir);
    return path.join(dir, 'c-json.log');
  };
}
