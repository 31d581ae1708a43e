import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  ConfigError,
  DEFAULT_CONFIG_FILE,
  containerdNamespaceFor,
  defaultPidfileFor,
  parseDaemonConfig,
  usage,
  type ParseOptions,
  type ParseResult,
} from '../../daemon/config';

/** No daemon.json at all (the default path is "missing"), empty environment, cgroup v1. */
const NO_FILE: ParseOptions = {
  readFile: (p) => {
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
  },
  env: {},
  cgroupV2: false,
};

const withFile = (text: string, extra: Partial<ParseOptions> = {}): ParseOptions => ({
  ...NO_FILE,
  readFile: (p) => {
    assert.equal(p, DEFAULT_CONFIG_FILE);
    return text;
  },
  ...extra,
});

const parse = (argv: string[], opts: ParseOptions = NO_FILE): ParseResult => parseDaemonConfig(argv, opts);

/** Asserts a ConfigError whose message matches `re` (and kind, when given). */
function rejects(fn: () => unknown, re: RegExp | string, kind?: 'usage' | 'config'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    if (typeof re === 'string') assert.equal(err.message, re);
    else assert.match(err.message, re);
    if (kind) assert.equal(err.kind, kind);
    return true;
  });
}

test('defaults match the documented ones', () => {
  const { config, warnings, action } = parse([]);
  assert.equal(action, 'run');
  assert.deepEqual(warnings, []);
  assert.equal(config.configFile, null);
  assert.deepEqual(config.hosts, ['unix:///var/run/docker.sock']);
  assert.equal(config.dataRoot, '/var/lib/berth');
  assert.equal(config.execRoot, '/var/run/berth');
  assert.equal(config.pidfile, '/var/run/berth.pid');
  assert.equal(config.tmpDir, '/var/lib/berth/tmp');
  assert.equal(config.containerd, null);
  assert.equal(config.containerdNamespace, 'berth');
  assert.equal(config.group, 'docker');
  assert.equal(config.logLevel, 'info');
  assert.equal(config.debug, false);
  assert.equal(config.bridge, null);
  assert.equal(config.bip, null);
  assert.equal(config.mtu, 1500);
  assert.equal(config.iptables, true);
  assert.equal(config.ipForward, true);
  assert.equal(config.ipMasq, true);
  assert.equal(config.icc, true);
  assert.equal(config.ip, '0.0.0.0');
  assert.equal(config.userlandProxy, true);
  assert.deepEqual(config.defaultAddressPools, []);
  assert.equal(config.logDriver, 'json-file');
  assert.deepEqual(config.logOpts, {});
  assert.equal(config.cgroupDriver, 'cgroupfs');
  assert.equal(config.defaultRuntime, 'runc');
  assert.equal(config.shutdownTimeout, 15);
  assert.equal(config.defaultShmSize, 64 * 1024 * 1024);
  assert.equal(config.defaultIpcMode, 'private');
  assert.equal(config.defaultCgroupnsMode, 'host');
  assert.equal(config.seccompProfile, 'builtin');
  assert.equal(config.maxConcurrentDownloads, 3);
  assert.equal(config.maxConcurrentUploads, 5);
  assert.equal(config.maxDownloadAttempts, 5);
  assert.deepEqual(config.proxies, { httpProxy: '', httpsProxy: '', noProxy: '' });
  assert.equal(parse([], { ...NO_FILE, cgroupV2: true }).config.defaultCgroupnsMode, 'private');
});

test('flag forms: --f v, --f=v, -f v, -fv, -f=v, combined shorthands, repeatable lists', () => {
  const a = parse([
    '--data-root',
    '/srv/a',
    '--exec-root=/run/a',
    '-p',
    '/run/a.pid',
    '-Hunix:///run/a.sock',
    '-H=fd://',
    '-DG',
    'staff',
  ]).config;
  assert.equal(a.dataRoot, '/srv/a');
  assert.equal(a.execRoot, '/run/a');
  assert.equal(a.pidfile, '/run/a.pid');
  assert.deepEqual(a.hosts, ['unix:///run/a.sock', 'fd://']);
  assert.equal(a.debug, true);
  assert.equal(a.group, 'staff');
  // the last value of a scalar flag wins, as pflag
  assert.equal(parse(['-l', 'warn', '--log-level=error']).config.logLevel, 'error');
  // a negative number is taken as the value, as pflag does for non-boolean flags
  rejects(() => parse(['--mtu', '-1']), 'invalid default MTU: -1');
  // `--` with nothing after it is allowed
  assert.equal(parse(['-D', '--']).config.debug, true);
});

test('boolean flags: bare, =true/=false, and pflag spellings', () => {
  assert.equal(parse(['--iptables=false']).config.iptables, false);
  assert.equal(parse(['--iptables=0']).config.iptables, false);
  assert.equal(parse(['--iptables=F']).config.iptables, false);
  assert.equal(parse(['--live-restore=false']).config.liveRestore, false);
  assert.equal(parse(['--live-restore']).config.liveRestore, true);
  assert.equal(parse([], withFile('{"live-restore": true}')).config.liveRestore, true);
  assert.equal(parse(['--experimental=True']).config.experimental, true);
  assert.equal(parse(['--userland-proxy=false', '--ip-forward=false', '--icc=false', '--ip-masq=false']).config.userlandProxy, false);
  // dockerd 20.10 and 28 both: pflag's wrapping of strconv.ParseBool's error
  rejects(
    () => parse(['--debug=maybe']),
    'invalid argument "maybe" for "-D, --debug" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
    'usage',
  );
  // a separate word after a boolean flag is a positional argument, which berthd refuses
  rejects(() => parse(['--debug', 'false']), '"berthd" accepts no argument(s).', 'usage');
});

test('command-line mistakes read like dockerd', () => {
  rejects(() => parse(['--bogus']), 'unknown flag: --bogus', 'usage');
  rejects(() => parse(['--bogus=1']), 'unknown flag: --bogus', 'usage');
  rejects(() => parse(['-x']), "unknown shorthand flag: 'x' in -x", 'usage');
  rejects(() => parse(['-Dx']), "unknown shorthand flag: 'x' in -Dx", 'usage');
  rejects(() => parse(['--data-root']), 'flag needs an argument: --data-root', 'usage');
  rejects(() => parse(['-H']), "flag needs an argument: 'H' in -H", 'usage');
  rejects(() => parse(['--mtu', 'abc']), /^invalid argument "abc" for "--mtu" flag: /, 'usage');
  rejects(() => parse(['serve']), '"berthd" accepts no argument(s).', 'usage');
});

test('help, version and validate are reported as actions without reading daemon.json', () => {
  const exploding: ParseOptions = {
    ...NO_FILE,
    readFile: () => {
      throw new Error('must not be read');
    },
  };
  assert.equal(parse(['-h'], exploding).action, 'help');
  assert.equal(parse(['--help'], exploding).action, 'help');
  assert.equal(parse(['-v'], exploding).action, 'version');
  assert.equal(parse(['--version'], exploding).action, 'version');
  assert.equal(parse(['--validate']).action, 'validate');
  const text = usage();
  assert.match(text, /Usage:\tberthd \[OPTIONS\]/);
  for (const flag of ['-H, --host list', '--data-root string', '-D, --debug', '--default-address-pool pool-options', '-v, --version']) {
    assert.ok(text.includes(flag), `usage lists ${flag}`);
  }
  assert.ok(!text.includes('--storage-driver'), 'ignored dockerd flags are not advertised');
});

test('hosts: unix paths made absolute, fd forms, tcp refused with a clear message', () => {
  const cwd = process.cwd();
  assert.deepEqual(parse(['-H', 'unix://rel/b.sock']).config.hosts, [`unix://${path.join(cwd, 'rel/b.sock')}`]);
  assert.deepEqual(parse(['-H', 'unix://']).config.hosts, ['unix:///var/run/docker.sock']);
  assert.deepEqual(parse(['-H', 'fd://*', '-H', 'fd://3']).config.hosts, ['fd://', 'fd://3']);
  assert.deepEqual(parse(['-H', 'unix:///a.sock', '-H', 'unix:///a.sock']).config.hosts, ['unix:///a.sock']);
  rejects(() => parse(['-H', 'tcp://0.0.0.0:2375']), /unix sockets only.*tcp is not supported/, 'usage');
  rejects(() => parse(['-H', '127.0.0.1:2375']), /unix sockets only/);
  rejects(() => parse(['-H', 'ssh://x']), /unsupported proto 'ssh'/);
  rejects(() => parse(['-H', 'fd://x']), /should be a number: x/);
  rejects(() => parse(['-H', 'fd://1']), /from fd 3 on/);
  rejects(
    () => parse([], withFile('{"hosts": ["tcp://127.0.0.1:2375"]}')),
    /^unable to configure the Docker daemon with file \/etc\/berth\/daemon.json: invalid bind address.*tcp is not supported/,
  );
});

test('paths are normalised; pidfile default follows the exec root', () => {
  const c = parse([
    '--data-root',
    'var/x/',
    '--exec-root',
    '/run/berth2/',
    '--containerd',
    'unix:///run/containerd/containerd.sock',
  ]).config;
  assert.equal(c.dataRoot, path.resolve('var/x'));
  assert.equal(c.execRoot, '/run/berth2');
  assert.equal(c.pidfile, '/run/berth2/berthd.pid');
  assert.equal(c.tmpDir, path.join(path.resolve('var/x'), 'tmp'));
  assert.equal(c.containerd, '/run/containerd/containerd.sock');
  assert.equal(parse(['--exec-root', '/var/run/berth/']).config.pidfile, '/var/run/berth.pid');
  assert.equal(defaultPidfileFor('/var/run/berth'), '/var/run/berth.pid');
  assert.equal(defaultPidfileFor('/x'), '/x/berthd.pid');
  // --pidfile "" turns the pidfile off, as dockerd
  assert.equal(parse(['--pidfile=']).config.pidfile, null);
  // $DOCKER_TMPDIR is not honoured: berthd empties its tmp dir at start
  assert.equal(parse([], { ...NO_FILE, env: { DOCKER_TMPDIR: '/scratch' } }).config.tmpDir, '/var/lib/berth/tmp');
});

test('containerd namespace: "berth" for the default data root, a data-root hash otherwise, or as given', () => {
  assert.equal(containerdNamespaceFor('/var/lib/berth'), 'berth');
  assert.equal(containerdNamespaceFor('/var/lib/berth/'), 'berth');
  const expected = `berth-${createHash('sha256').update('/srv/berth-b').digest('hex').slice(0, 8)}`;
  assert.equal(parse(['--data-root', '/srv/berth-b']).config.containerdNamespace, expected);
  assert.match(expected, /^berth-[0-9a-f]{8}$/);
  assert.notEqual(containerdNamespaceFor('/srv/a'), containerdNamespaceFor('/srv/b'));
  assert.equal(parse(['--data-root', '/srv/x', '--containerd-namespace', 'custom.ns']).config.containerdNamespace, 'custom.ns');
  rejects(() => parse(['--containerd-namespace', 'bad ns']), /invalid containerd-namespace "bad ns"/);
});

test('daemon.json: values are read and typed like the flags', () => {
  const { config, warnings } = parse(
    [],
    withFile(
      JSON.stringify({
        hosts: ['unix:///run/j.sock'],
        'data-root': '/srv/j',
        'log-level': 'DEBUG',
        bip: '172.30.0.1/16',
        'fixed-cidr': '172.30.5.0/24',
        mtu: 1400,
        iptables: false,
        'default-address-pools': [{ base: '10.10.0.0/16', size: 24 }],
        dns: ['1.1.1.1', ' 8.8.8.8 '],
        'dns-search': ['example.com.'],
        'dns-opts': ['ndots:2'],
        'log-driver': 'local',
        'log-opts': { 'max-size': '10m' },
        'default-ulimits': { nofile: { Name: 'nofile', Soft: 1024, Hard: 2048 } },
        'exec-opts': ['native.cgroupdriver=systemd'],
        labels: ['a=1', 'a=1', 'b=2'],
        'shutdown-timeout': 30,
        'live-restore': false,
        features: { buildkit: false },
        builder: { gc: { enabled: true } },
        proxies: { 'http-proxy': 'http://proxy:3128' },
        'default-shm-size': '128M',
      }),
    ),
  );
  assert.deepEqual(warnings, []);
  assert.equal(config.configFile, '/etc/berth/daemon.json');
  assert.deepEqual(config.hosts, ['unix:///run/j.sock']);
  assert.equal(config.dataRoot, '/srv/j');
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.bip, '172.30.0.1/16');
  assert.equal(config.fixedCidr, '172.30.5.0/24');
  assert.equal(config.mtu, 1400);
  assert.equal(config.iptables, false);
  assert.deepEqual(config.defaultAddressPools, [{ base: '10.10.0.0/16', size: 24 }]);
  assert.deepEqual(config.dns, ['1.1.1.1', '8.8.8.8']);
  assert.deepEqual(config.dnsSearch, ['example.com']);
  assert.deepEqual(config.dnsOpts, ['ndots:2']);
  assert.equal(config.logDriver, 'local');
  assert.deepEqual(config.logOpts, { 'max-size': '10m' });
  assert.deepEqual(config.defaultUlimits, { nofile: { Name: 'nofile', Soft: 1024, Hard: 2048 } });
  assert.equal(config.cgroupDriver, 'systemd');
  assert.deepEqual(config.execOpts, { 'native.cgroupdriver': 'systemd' });
  assert.deepEqual(config.labels, ['a=1', 'b=2']);
  assert.equal(config.shutdownTimeout, 30);
  assert.equal(config.liveRestore, false);
  assert.deepEqual(config.features, { buildkit: false });
  assert.deepEqual(config.builder, { gc: { enabled: true } });
  assert.equal(config.proxies.httpProxy, 'http://proxy:3128');
  assert.equal(config.defaultShmSize, 128 * 1024 * 1024);
});

test('daemon.json: flags and file combine; a key set in both is refused with both values', () => {
  const both = parse(['--data-root', '/srv/f'], withFile('{"debug": true}')).config;
  assert.equal(both.dataRoot, '/srv/f');
  assert.equal(both.debug, true);
  rejects(
    () =>
      parse(['-H', 'unix:///tmp/b.sock', '-H', 'unix:///tmp/c.sock', '-D'], withFile('{"hosts": ["unix:///tmp/a.sock"], "debug": true}')),
    'unable to configure the Docker daemon with file /etc/berth/daemon.json: the following directives are specified both as a flag and in the configuration file: ' +
      'debug: (from flag: true, from file: true), hosts: (from flag: [unix:///tmp/b.sock unix:///tmp/c.sock], from file: [unix:///tmp/a.sock])',
  );
  // named options conflict under their daemon.json name; values print as Go's %v prints them
  rejects(
    () =>
      parse(
        ['--label', 'x=1', '--log-opt', 'max-size=1m', '--mtu', '1400'],
        withFile('{"labels": ["y=2"], "log-opts": {"max-file": "3"}, "mtu": 1500}'),
      ),
    /labels: \(from flag: \[x=1\], from file: \[y=2\]\), log-opts: \(from flag: map\[max-size:1m\], from file: map\[max-file:3\]\), mtu: \(from flag: 1400, from file: 1500\)$/,
  );
  // keys nested in a non-flat object (proxies) are compared by their own name; credentials masked
  rejects(
    () => parse(['--http-proxy', 'http://u:p@a:1'], withFile('{"proxies": {"http-proxy": "http://v:q@b:2"}}')),
    /http-proxy: \(from flag: http:\/\/xxxxx:xxxxx@a:1\/?, from file: http:\/\/xxxxx:xxxxx@b:2\/?\)/,
  );
});

test('daemon.json: missing default file is fine, a missing explicit file is not', () => {
  assert.equal(parse([]).config.configFile, null);
  rejects(
    () => parse(['--config-file', '/etc/berth/other.json']),
    'unable to configure the Docker daemon with file /etc/berth/other.json: open /etc/berth/other.json: no such file or directory',
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-config-'));
  try {
    const file = path.join(dir, 'daemon.json');
    fs.writeFileSync(file, '{"debug": true}');
    const r = parseDaemonConfig(['--config-file', file], { env: {}, cgroupV2: false });
    assert.equal(r.config.configFile, file);
    assert.equal(r.config.debug, true);
    // the default reader understands a UTF-8 BOM and UTF-16 LE with BOM, as dockerd does
    fs.writeFileSync(file, '\ufeff{"mtu": 1450}');
    assert.equal(parseDaemonConfig(['--config-file', file], { env: {}, cgroupV2: false }).config.mtu, 1450);
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"mtu": 1460}', 'utf16le')]));
    assert.equal(parseDaemonConfig(['--config-file', file], { env: {}, cgroupV2: false }).config.mtu, 1460);
    // a path that cannot be read as a file is an error
    rejects(
      () => parseDaemonConfig(['--config-file', dir], { env: {}, cgroupV2: false }),
      /^unable to configure the Docker daemon with file /,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // only a MISSING default file is skipped; an unreadable one is an error
  const denied: ParseOptions = {
    ...NO_FILE,
    readFile: () => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    },
  };
  rejects(
    () => parse([], denied),
    /^unable to configure the Docker daemon with file \/etc\/berth\/daemon.json: open \/etc\/berth\/daemon.json: EACCES/,
  );
  // an empty or blank file is an empty configuration
  assert.deepEqual(parse([], withFile('  \n')).warnings, []);
});

test('daemon.json: invalid JSON and wrong shapes refuse to start with the file named', () => {
  rejects(
    () => parse([], withFile('{"hosts": ["unix:///a"], ')),
    /^unable to configure the Docker daemon with file \/etc\/berth\/daemon.json: invalid JSON: /,
  );
  rejects(
    () => parse([], withFile('[1, 2]')),
    'unable to configure the Docker daemon with file /etc/berth/daemon.json: the configuration must be a JSON object, not an array',
  );
  const wrong: Array<[string, RegExp]> = [
    ['{"mtu": "abc"}', /"mtu" must be an integer, not a string$/],
    ['{"mtu": 1.5}', /"mtu" must be an integer, not a number$/],
    ['{"debug": "yes"}', /"debug" must be a boolean \(true or false\), not a string$/],
    ['{"hosts": "unix:///a"}', /"hosts" must be an array of strings, not a string$/],
    ['{"labels": [1]}', /"labels" must be an array of strings; element 0 is a number$/],
    ['{"log-opts": {"max-size": 10}}', /"log-opts" must be an object of strings; "max-size" is a number$/],
    [
      '{"default-address-pools": [{"base": "10.0.0.0/8", "size": "24"}]}',
      /"default-address-pools\[0\].size" must be an integer, not a string$/,
    ],
    ['{"default-ulimits": {"nofile": {"Soft": "x"}}}', /"default-ulimits.nofile.soft" must be an integer, not a string$/],
    ['{"default-shm-size": 1024}', /"default-shm-size" must be a size string such as "64m", not a number$/],
  ];
  for (const [text, re] of wrong) rejects(() => parse([], withFile(text)), re, 'config');
  // null leaves the default, as Go's decoder does
  assert.equal(parse([], withFile('{"mtu": null}')).config.mtu, 1500);
});

test('daemon.json: unknown keys and keys Berth ignores warn instead of refusing', () => {
  const { config, warnings } = parse(
    [],
    withFile('{"foo": 1, "bar": {"x": 1}, "label": ["a=b"], "storage-driver": "overlay2", "storage-opts": ["x=y"], "debug": true}'),
  );
  assert.equal(config.debug, true, 'the known keys still apply');
  assert.deepEqual(warnings, [
    '/etc/berth/daemon.json: the following directives don\'t match any configuration option and are ignored: foo, x, label (the key is "labels")',
    '/etc/berth/daemon.json: the following directives are not supported by Berth and are ignored: storage-driver, storage-opts',
  ]);
  const flagWarn = parse(['--storage-driver', 'vfs', '--storage-opt', 'x=y']).warnings;
  assert.deepEqual(flagWarn, ['the following flags are not supported by Berth and are ignored: --storage-driver, --storage-opt']);
});

test('options whose omission would weaken isolation refuse to start', () => {
  rejects(() => parse([], withFile('{"userns-remap": "default"}')), /refusing to start rather than ignore: userns-remap$/);
  rejects(() => parse([], withFile('{"authorization-plugins": ["authz"]}')), /authorization-plugins$/);
  rejects(() => parse(['--selinux-enabled']), /refusing to start rather than ignore: --selinux-enabled$/);
  rejects(() => parse(['--tlsverify']), /--tlsverify$/);
  // set to their off values they are harmless
  assert.deepEqual(parse(['--selinux-enabled=false'], withFile('{"userns-remap": "", "tls": false}')).warnings, []);
});

test('value validation follows dockerd', () => {
  rejects(() => parse(['-l', 'verbose']), 'unable to parse logging level: verbose');
  rejects(() => parse([], withFile('{"log-level": "nope"}')), 'unable to parse logging level: nope');
  assert.equal(parse(['-l', 'WARNING']).config.logLevel, 'warn');
  assert.equal(parse(['-l', 'trace']).config.logLevel, 'trace');
  assert.equal(parse(['-D', '-l', 'error']).config.logLevel, 'debug', '--debug forces debug logging');

  // moby's validation: the default runtime must be one the daemon has (Berth: runc, by both names).
  assert.equal(parse([]).config.defaultRuntime, 'runc');
  assert.equal(parse(['--default-runtime', 'io.containerd.runc.v2']).config.defaultRuntime, 'io.containerd.runc.v2');
  rejects(() => parse(['--default-runtime', 'crun']), "specified default runtime 'crun' does not exist");
  rejects(() => parse([], withFile('{"default-runtime": "youki"}')), "specified default runtime 'youki' does not exist");

  rejects(() => parse(['--mtu', '-5']), 'invalid default MTU: -5');
  rejects(() => parse(['--mtu', '70000']), /^invalid MTU number: 70000/);
  rejects(() => parse(['--mtu', '20']), /^invalid MTU number: 20/);
  assert.equal(parse(['--mtu', '0']).config.mtu, 1500);
  assert.equal(parse(['--mtu', '9000']).config.mtu, 9000);
  // pflag's int flags are strconv.ParseInt(v, 0, 64): prefixes and underscores, no white space
  assert.equal(parse(['--mtu', '0x5dc']).config.mtu, 1500);
  assert.equal(parse(['--mtu', '1_400']).config.mtu, 1400);
  assert.equal(parse(['--mtu', '02734']).config.mtu, 1500);
  rejects(
    () => parse(['--mtu', ' 1400']),
    'invalid argument " 1400" for "--mtu" flag: strconv.ParseInt: parsing " 1400": invalid syntax',
    'usage',
  );
  rejects(
    () => parse(['--mtu', '99999999999999999999']),
    'invalid argument "99999999999999999999" for "--mtu" flag: strconv.ParseInt: parsing "99999999999999999999": value out of range',
    'usage',
  );

  rejects(
    () => parse(['-b', 'br0', '--bip', '10.0.0.1/24']),
    'You specified -b & --bip, mutually exclusive options. Please specify only one',
  );
  rejects(() => parse(['--bip', '10.0.0.1']), /^invalid bip "10.0.0.1"/);
  rejects(() => parse(['--bip', 'fd00::1/64']), /^invalid bip/);
  rejects(() => parse(['--fixed-cidr', '10.0.0.0/33']), /^invalid fixed-cidr/);
  assert.equal(parse(['--bridge', 'none']).config.bridge, 'none');

  rejects(
    () => parse(['--default-address-pool', 'foo']),
    /for "--default-address-pool" flag: invalid field 'foo' must be a key=value pair$/,
  );
  rejects(() => parse(['--default-address-pool', 'base=10.0.0.0/8,size=x']), /invalid size value/);
  rejects(() => parse(['--default-address-pool', 'base=10.0.0.0/8,size=4']), 'invalid pools size: 4');
  rejects(() => parse(['--default-address-pool', 'base=10.0.0.0/8,size=40']), 'invalid pools size: 40');
  rejects(() => parse(['--default-address-pool', 'base=10.0.0.0,size=24']), /^invalid base pool "10.0.0.0"/);
  assert.deepEqual(
    parse(['--default-address-pool', 'base=10.0.0.0/8,size=24', '--default-address-pool', 'BASE=fd00::/48,Size=64']).config
      .defaultAddressPools,
    [
      { base: '10.0.0.0/8', size: 24 },
      { base: 'fd00::/48', size: 64 },
    ],
  );

  rejects(() => parse(['--dns', 'foo']), /for "--dns" flag: foo is not an ip address$/);
  rejects(() => parse(['--dns-search', '-bad']), /-bad is not a valid domain$/);
  assert.deepEqual(parse(['--dns-search', '.']).config.dnsSearch, ['.']);
  rejects(() => parse(['--label', 'foo']), /bad attribute format: foo$/);
  rejects(() => parse(['--label', 'com.docker.x=1']), /namespaces com.docker.\*, io.docker.\*, and org.dockerproject.\* are reserved/);
  rejects(() => parse(['--label', 'a=1', '--label', 'a=2']), 'conflict labels for a=2 and a=1');

  rejects(() => parse(['--exec-opt', 'foo']), "invalid exec-opt (foo): must be formatted 'opt=value'");
  rejects(() => parse(['--exec-opt', 'foo=bar']), "invalid exec-opt (foo=bar): unknown option: 'foo'");
  rejects(() => parse(['--exec-opt', 'native.cgroupdriver=foo']), 'native.cgroupdriver option foo not supported');

  rejects(() => parse(['--default-ulimit', 'nofile']), /invalid ulimit argument: nofile$/);
  rejects(() => parse(['--default-ulimit', 'bogus=1']), /invalid ulimit type: bogus$/);
  rejects(() => parse(['--default-ulimit', 'nofile=10:5']), /ulimit soft limit must be less than or equal to hard limit: 10 > 5$/);
  // go-units ParseUlimit reads base 10 (dockerd 20.10 answers the same)
  rejects(
    () => parse(['--default-ulimit', 'nofile=x']),
    'invalid argument "nofile=x" for "--default-ulimit" flag: strconv.ParseInt: parsing "x": invalid syntax',
    'usage',
  );
  rejects(
    () => parse(['--default-ulimit', 'nofile=0x10']),
    'invalid argument "nofile=0x10" for "--default-ulimit" flag: strconv.ParseInt: parsing "0x10": invalid syntax',
    'usage',
  );
  assert.deepEqual(parse(['--default-ulimit', 'nofile=1024:2048', '--default-ulimit', 'nproc=512']).config.defaultUlimits, {
    nofile: { Name: 'nofile', Soft: 1024, Hard: 2048 },
    nproc: { Name: 'nproc', Soft: 512, Hard: 512 },
  });
  rejects(
    () => parse([], withFile('{"default-ulimits": {"nofile": {"Name": "nofile", "Soft": 20, "Hard": 10}}}')),
    /soft limit must be less than or equal to hard limit: 20 > 10$/,
  );

  assert.deepEqual(parse(['--log-opt', 'max-size=10m', '--log-opt', 'labels=a,b', '--log-opt', 'flag']).config.logOpts, {
    'max-size': '10m',
    labels: 'a,b',
    flag: '',
  });
  assert.equal(parse(['--shutdown-timeout', '-7']).config.shutdownTimeout, -1);
  rejects(() => parse(['--max-concurrent-downloads', '-1']), 'invalid max concurrent downloads: -1');
  rejects(() => parse(['--default-ipc-mode', 'host']), /IPC mode "host" is not supported as default value/);
  rejects(() => parse(['--default-cgroupns-mode', 'x']), /invalid default cgroup namespace \(x\)/);
  rejects(() => parse(['--default-shm-size', 'lots']), /invalid size: 'lots'/);
  // go-units v0.5.0: the number is strconv.ParseFloat's (it was read as 1.2 before)
  rejects(
    () => parse(['--default-shm-size', '1.2.3']),
    'invalid argument "1.2.3" for "--default-shm-size" flag: strconv.ParseFloat: parsing "1.2.3": invalid syntax',
    'usage',
  );
  rejects(() => parse([], withFile('{"default-shm-size": "1.2.3m"}')), /strconv.ParseFloat: parsing "1.2.3": invalid syntax/);
  assert.equal(parse(['--default-shm-size', '1.5k']).config.defaultShmSize, 1536);
  assert.equal(parse(['--default-shm-size', '1g']).config.defaultShmSize, 1024 ** 3);
  rejects(() => parse([], withFile('{"features": {"buildkit": "yes"}}')), /"features" must be an object of booleans/);
});

test('proxies fall back to the environment, as dockerd', () => {
  const env = { HTTP_PROXY: 'http://env:1', https_proxy: 'http://env:2', NO_PROXY: 'localhost' };
  assert.deepEqual(parse([], { ...NO_FILE, env }).config.proxies, {
    httpProxy: 'http://env:1',
    httpsProxy: 'http://env:2',
    noProxy: 'localhost',
  });
  assert.equal(parse(['--http-proxy', 'http://flag:1'], { ...NO_FILE, env }).config.proxies.httpProxy, 'http://flag:1');
});
