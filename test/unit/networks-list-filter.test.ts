// The network list filters (GET /networks?filters=, `docker network ls --filter`): driver, id,
// name, label, scope, type, dangling. Expected results and texts are dockerd 20.10's.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Filters } from '../../api/filters';
import { networkListFilter } from '../../api/routes/networks';
import type { NetworkRecord } from '../../daemon/networks/model';
import { InvalidParameter } from '../../lib/errors';
import { invalid } from './assert-invalid';
import { BRIDGE, HOST, N1, NET2, NONE, netRecord as net } from './network-records';

describe('networkListFilter (GET /networks filters)', () => {
  const F1 = net('f1', `ec40013d9e87${'1'.repeat(52)}`, { labels: { tier: '', env: 'prod' } });
  const NET2L = { ...NET2, id: `ef1355f078d4${'2'.repeat(52)}`, labels: { env: 'dev' } };
  const N1L = { ...N1, id: `ef13${'3'.repeat(60)}` };
  const NETWORKS = [BRIDGE, HOST, NONE, N1L, NET2L, F1];
  const names = (pairs: [string, string][], dangling: (n: NetworkRecord) => boolean = () => false): string[] => {
    const f = networkListFilter(Filters.of(pairs));
    return NETWORKS.filter((n) => f.match(n, dangling(n)))
      .map((n) => n.name)
      .sort();
  };

  test('no filter: everything', () => {
    assert.deepEqual(names([]), ['bridge', 'f1', 'host', 'n1', 'net2', 'none']);
  });

  test('driver: exact; several values are alternatives', () => {
    assert.deepEqual(names([['driver', 'bridge']]), ['bridge', 'f1', 'n1', 'net2']);
    assert.deepEqual(names([['driver', 'null']]), ['none']);
    assert.deepEqual(
      names([
        ['driver', 'host'],
        ['driver', 'null'],
      ]),
      ['host', 'none'],
    );
    assert.deepEqual(names([['driver', 'brid']]), []);
  });

  test('id: a prefix matches', () => {
    assert.deepEqual(names([['id', 'ef13']]), ['n1', 'net2']);
    assert.deepEqual(names([['id', 'ef1355']]), ['net2']);
    assert.deepEqual(names([['id', NET2L.id]]), ['net2']);
    assert.deepEqual(names([['id', 'ffff']]), []);
  });

  test('name: substring or regular expression', () => {
    assert.deepEqual(names([['name', 'n']]), ['n1', 'net2', 'none']);
    assert.deepEqual(names([['name', '^n.*2$']]), ['net2']);
    assert.deepEqual(names([['name', 'bridge']]), ['bridge']);
    assert.deepEqual(names([['name', '[']]), [], 'a value that does not compile matches nothing');
  });

  test('label: key, key=value, value-less label', () => {
    assert.deepEqual(names([['label', 'env']]), ['f1', 'net2']);
    assert.deepEqual(names([['label', 'env=prod']]), ['f1']);
    assert.deepEqual(names([['label', 'tier']]), ['f1']);
    assert.deepEqual(names([['label', 'tier=']]), ['f1']);
    assert.deepEqual(
      names([
        ['label', 'env'],
        ['label', 'tier'],
      ]),
      ['f1'],
      'all labels must be present',
    );
  });

  test('scope: local is everything, swarm nothing', () => {
    assert.equal(names([['scope', 'local']]).length, 6);
    assert.deepEqual(names([['scope', 'swarm']]), []);
  });

  test("type: custom and builtin; anything else is dockerd's invalid filter text", () => {
    assert.deepEqual(names([['type', 'custom']]), ['f1', 'n1', 'net2']);
    assert.deepEqual(names([['type', 'builtin']]), ['bridge', 'host', 'none']);
    invalid(() => networkListFilter(Filters.of([['type', 'foo']])), "invalid filter: 'type'='foo'");
  });

  test('dangling: follows the flag the service computes; bad values refused', () => {
    const unused = (n: NetworkRecord): boolean => !n.builtin && n.name !== 'net2';
    assert.deepEqual(names([['dangling', 'true']], unused), ['f1', 'n1']);
    assert.deepEqual(names([['dangling', '1']], unused), ['f1', 'n1']);
    assert.deepEqual(names([['dangling', 'false']], unused), ['bridge', 'host', 'net2', 'none']);
    assert.deepEqual(names([['dangling', '0']], unused), ['bridge', 'host', 'net2', 'none']);
    assert.throws(
      () => networkListFilter(Filters.of([['dangling', 'maybe']])),
      (err: unknown) => err instanceof InvalidParameter && /dangling/.test((err as Error).message),
    );
  });

  test('an unknown filter key is refused', () => {
    assert.throws(
      () => networkListFilter(Filters.of([['foo', 'bar']])),
      (err: unknown) => err instanceof InvalidParameter && /^invalid filter 'foo'$/i.test((err as Error).message),
    );
  });

  test('filters combine with AND', () => {
    assert.deepEqual(
      names([
        ['driver', 'bridge'],
        ['type', 'custom'],
        ['label', 'env'],
      ]),
      ['f1', 'net2'],
    );
  });
});
