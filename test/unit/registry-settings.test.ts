import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseDaemonConfig, type ParseOptions } from '../../daemon/config';
import { registryServiceConfig, validateInsecureRegistry, validateMirror } from '../../daemon/registry-settings';

const NO_FILE: ParseOptions = {
  readFile: (p) => {
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
  },
  env: {},
  cgroupV2: false,
};

test('mirrors are http(s) URLs kept with one trailing slash, as moby ValidateMirror', () => {
  assert.equal(validateMirror('http://127.0.0.1:5000'), 'http://127.0.0.1:5000/');
  assert.equal(validateMirror('https://mirror.example/path//'), 'https://mirror.example/path/');
  assert.throws(() => validateMirror('ftp://x'), /invalid mirror: unsupported scheme "ftp" in "ftp:\/\/x"/);
  assert.throws(() => validateMirror('mirror.example'), /invalid mirror/);
  assert.throws(() => validateMirror('https://m.example/?a=b'), /query or fragment/);
  assert.throws(
    () => validateMirror('https://u:secret@m.example/'),
    (err: Error) => !err.message.includes('secret') && /username\/password/.test(err.message),
  );
});

test('insecure registries: CIDRs masked, schemes dropped, host:port kept, junk refused', () => {
  assert.equal(validateInsecureRegistry('10.1.2.3/8'), '10.0.0.0/8');
  assert.equal(validateInsecureRegistry('http://myreg:5000'), 'myreg:5000');
  assert.equal(validateInsecureRegistry('https://myreg.example'), 'myreg.example');
  assert.equal(validateInsecureRegistry('[::1]:5000'), '[::1]:5000');
  assert.throws(() => validateInsecureRegistry('tcp://x:1'), /should not contain '::\/\/'|should not contain ':\/\/'/);
  assert.throws(() => validateInsecureRegistry('bad host!'), /insecure registry bad host! is not valid/);
  assert.throws(() => validateInsecureRegistry('x:99999'), /is not valid/);
});

test('flags and daemon.json feed the config, and docker info shows them as dockerd does', () => {
  const { config } = parseDaemonConfig(
    ['--registry-mirror', 'http://127.0.0.1:5001', '--insecure-registry', 'reg.test:5000', '--insecure-registry', '192.168.9.9/16'],
    NO_FILE,
  );
  assert.deepEqual(config.registryMirrors, ['http://127.0.0.1:5001/']);
  assert.deepEqual(config.insecureRegistries, ['reg.test:5000', '192.168.0.0/16']);
  const info = registryServiceConfig({ mirrors: config.registryMirrors, insecureRegistries: config.insecureRegistries });
  assert.deepEqual(info.InsecureRegistryCIDRs, ['192.168.0.0/16', '::1/128', '127.0.0.0/8']);
  assert.deepEqual(info.IndexConfigs['reg.test:5000'], { Name: 'reg.test:5000', Mirrors: [], Secure: false, Official: false });
  assert.deepEqual(info.IndexConfigs['docker.io'].Mirrors, ['http://127.0.0.1:5001/']);
  assert.throws(() => parseDaemonConfig(['--registry-mirror', 'nope'], NO_FILE), ConfigError);
});
