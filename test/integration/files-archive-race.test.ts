// Reading a container's files while it is removed, as dockerd orders it: the archive holds the
// container's lock until it is read, so a concurrent `rm -f` waits for it instead of taking the
// snapshot from under the temporary mount (which answered a 500 "mount failed" before), and a
// reader that leaves before reading anything releases the lock.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { describe, test } from 'node:test';
import { b, ok, raw, readTar, useFilesBerth } from './files-kit';

describe('container files: archive against remove', { timeout: 300_000 }, () => {
  useFilesBerth();

  test('archive and rm -f of a stopped container race: a whole tar or a 404, never a 500', async () => {
    const seen = new Map<number, number>();
    for (let i = 0; i < 15; i++) {
      const id = (await ok(['create', 'busybox', 'true'])).trim();
      const [archive, removed] = await Promise.all([
        raw(b, 'GET', `/containers/${id}/archive?path=/etc`),
        raw(b, 'DELETE', `/containers/${id}?force=1`),
      ]);
      seen.set(archive.status, (seen.get(archive.status) ?? 0) + 1);
      assert.equal(removed.status, 204, removed.body.toString());
      if (archive.status === 200) {
        const names = [...(await readTar(archive.body)).keys()];
        assert.ok(names.includes('etc/passwd'), `archive cut short: ${names.join(' ')}`);
      } else {
        assert.equal(archive.status, 404, archive.body.toString());
      }
      const stat = await raw(b, 'HEAD', `/containers/${id}/archive?path=/etc`);
      assert.equal(stat.status, 404);
    }
    assert.ok((seen.get(200) ?? 0) + (seen.get(404) ?? 0) === 15, JSON.stringify([...seen]));
  });

  test('a reader gone before reading a byte does not keep rm waiting', async () => {
    const id = (await ok(['create', 'busybox', 'true'])).trim();
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: b.socket, method: 'GET', path: `/containers/${id}/archive?path=/` }, (res) => {
        assert.equal(res.statusCode, 200);
        req.destroy();
        resolve();
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
      req.end();
    });
    // Bounded by the test's timeout: with the lock leaked, this rm would never return.
    await ok(['rm', '-f', id]);
    assert.equal((await raw(b, 'GET', `/containers/${id}/json`)).status, 404);
  });
});
