import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linkVariables } from '../../daemon/containers/networking';
import { splitLink } from '../../daemon/networks/sandboxes';

test('linkVariables: moby links.ToEnv order, default port = lowest, tcp first on a tie', () => {
  const env = linkVariables(
    'my-db',
    '/web/my-db',
    '172.17.0.5',
    ['5432/tcp', '53/udp', '53/tcp'],
    ['PATH=/bin', 'HOME=/root', 'PGDATA=/data', 'EMPTY=', 'NOVALUE'],
  );
  assert.deepEqual(env, [
    'MY_DB_PORT=tcp://172.17.0.5:53',
    'MY_DB_PORT_53_TCP=tcp://172.17.0.5:53',
    'MY_DB_PORT_53_TCP_ADDR=172.17.0.5',
    'MY_DB_PORT_53_TCP_PORT=53',
    'MY_DB_PORT_53_TCP_PROTO=tcp',
    'MY_DB_PORT_53_UDP=udp://172.17.0.5:53',
    'MY_DB_PORT_53_UDP_ADDR=172.17.0.5',
    'MY_DB_PORT_53_UDP_PORT=53',
    'MY_DB_PORT_53_UDP_PROTO=udp',
    'MY_DB_PORT_5432_TCP=tcp://172.17.0.5:5432',
    'MY_DB_PORT_5432_TCP_ADDR=172.17.0.5',
    'MY_DB_PORT_5432_TCP_PORT=5432',
    'MY_DB_PORT_5432_TCP_PROTO=tcp',
    'MY_DB_NAME=/web/my-db',
    'MY_DB_ENV_PGDATA=/data',
    'MY_DB_ENV_EMPTY=',
  ]);
});

test('linkVariables: no exposed ports, no _PORT variables', () => {
  assert.deepEqual(linkVariables('db', '/w/db', '10.0.0.2', [], []), ['DB_NAME=/w/db']);
});

test('splitLink reads "name:alias", "/name:/parent/alias" and a bare name', () => {
  assert.deepEqual(splitLink('db:alias'), ['db', 'alias']);
  assert.deepEqual(splitLink('/db:/web/alias'), ['db', 'alias']);
  assert.deepEqual(splitLink('db'), ['db', 'db']);
});
