// The registry service (login, search, distribution inspect) against a fake registry client, and
// the search parameter validation of api/routes/registry.ts, with dockerd's texts.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { Filters } from '../../api/filters';
import { parseSearchLimit, searchFilterOptions } from '../../api/routes/registry';
import { loginRegistryHost, splitSearchTerm } from '../../daemon/registry/address';
import { RegistryService, type RawSearchResult, type RegistryClientApi } from '../../daemon/registry/service';
import {
  RegistryError,
  type Credentials,
  type Endpoint,
  type FetchedManifest,
  type RegistrySettings,
  type RepositoryClient,
} from '../../registry/types';

const settings: RegistrySettings = { insecureRegistries: [], mirrors: [], certsDir: '/nonexistent', userAgent: 'test' };

describe('login server address', () => {
  for (const [input, want] of [
    ['', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['http://index.docker.io/v1/', 'docker.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['http://127.0.0.1:5000/v2/', '127.0.0.1:5000'],
    ['https://registry.example.com/some/path', 'registry.example.com'],
    ['registry.example.com:443', 'registry.example.com:443'],
    ['registry-1.docker.io', 'registry-1.docker.io'],
  ] as const) {
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(loginRegistryHost(input), want));
  }
  it('an address that does not parse is a 400', () => {
    assert.throws(
      () => loginRegistryHost('https://[::1'),
      (e: Error) => e.name === 'InvalidParameter' && /^unable to parse server address/.test(e.message),
    );
  });
});

describe('search term', () => {
  for (const [term, index, remoteName] of [
    ['busybox', 'docker.io', 'busybox'],
    ['library/busybox', 'docker.io', 'busybox'],
    ['samalba/hipache', 'docker.io', 'samalba/hipache'],
    ['127.0.0.1:5000/bus', '127.0.0.1:5000', 'bus'],
    ['localhost/foo/bar', 'localhost', 'foo/bar'],
    ['registry.example.com/library/x', 'registry.example.com', 'library/x'],
    ['index.docker.io/library/x', 'docker.io', 'x'],
  ] as const) {
    it(`${term} → ${index} ${remoteName}`, () => assert.deepEqual(splitSearchTerm(term), { index, remoteName }));
  }
  it('a scheme is refused', () => {
    assert.throws(() => splitSearchTerm('https://x/y'), {
      message: 'invalid repository name: repository name (https://x/y) should not have a scheme',
    });
  });
});

describe('search parameters', () => {
  it('limit', () => {
    assert.equal(parseSearchLimit(undefined), 0);
    assert.equal(parseSearchLimit(''), 0);
    assert.equal(parseSearchLimit('7'), 7);
    assert.equal(parseSearchLimit('+7'), 7);
    assert.throws(() => parseSearchLimit('x'), { message: 'invalid limit specified: strconv.Atoi: parsing "x": invalid syntax' });
    assert.throws(() => parseSearchLimit('-1'), { message: 'invalid limit specified' });
    assert.throws(() => parseSearchLimit('99999999999999999999'), {
      message: 'invalid limit specified: strconv.Atoi: parsing "99999999999999999999": value out of range',
    });
  });
  const f = (o: Record<string, string[]>): Filters => Filters.fromJSON(JSON.stringify(o));
  it('filters', () => {
    assert.deepEqual(searchFilterOptions(f({})), {});
    assert.deepEqual(searchFilterOptions(f({ 'is-official': ['true'] })), { isOfficial: true });
    assert.deepEqual(searchFilterOptions(f({ 'is-official': ['0'] })), { isOfficial: false });
    assert.deepEqual(searchFilterOptions(f({ 'is-automated': ['true'] })), { isAutomated: true });
    assert.deepEqual(searchFilterOptions(f({ 'is-automated': ['false'] })), {});
    assert.deepEqual(searchFilterOptions(f({ stars: ['3', '10', '2'] })), { minStars: 10 });
    assert.throws(() => searchFilterOptions(f({ stars: ['x'] })), {
      message: `invalid filter 'stars=x': strconv.Atoi: parsing "x": invalid syntax`,
    });
    assert.throws(() => searchFilterOptions(f({ 'is-official': ['maybe'] })), { message: `invalid filter 'is-official=[maybe]'` });
    assert.throws(() => searchFilterOptions(f({ name: ['x'] })), { message: `invalid filter 'name'` });
  });
});

// ------------------------------------------------------------------ fake client

interface FakeRepo {
  manifests: Record<string, FetchedManifest>;
  blobs: Record<string, Buffer>;
}

function fakeClient(opts: {
  endpoints?: Endpoint[];
  login?: (ep: Endpoint, c: Credentials) => Promise<{ identityToken?: string }>;
  search?: (ep: Endpoint, term: string, limit: number) => Promise<{ results: RawSearchResult[] }>;
  repos?: Record<string, FakeRepo>;
}): RegistryClientApi & { calls: string[] } {
  const calls: string[] = [];
  const eps = opts.endpoints ?? [{ url: 'https://reg.example', mirror: false }];
  return {
    calls,
    endpointsFor: async (domain) => {
      calls.push(`endpoints ${domain}`);
      return eps;
    },
    indexEndpoint: async (domain) => {
      calls.push(`index ${domain}`);
      return eps;
    },
    login: async (ep, c) => {
      calls.push(`login ${ep.url}`);
      if (!opts.login) throw new Error('no login');
      return opts.login(ep, c);
    },
    search: async (ep, term, limit) => {
      calls.push(`search ${ep.url} ${term} ${limit}`);
      if (!opts.search) throw new Error('no search');
      return opts.search(ep, term, limit);
    },
    openRepository: (endpoint, name): RepositoryClient => {
      const repo = opts.repos?.[name];
      const unknown = (): never => {
        throw new RegistryError('manifest unknown', 404, 'MANIFEST_UNKNOWN');
      };
      return {
        endpoint,
        name,
        getManifest: async (ref) => repo?.manifests[ref] ?? unknown(),
        headManifest: async () => undefined,
        listTags: async () => [],
        headBlob: async () => undefined,
        getBlob: async (digest) => {
          const b = repo?.blobs[digest];
          if (!b) throw new RegistryError('blob unknown to registry', 404, 'BLOB_UNKNOWN');
          return { body: Readable.from([b]), size: b.length };
        },
        mountBlob: async () => false,
        pushBlob: async () => ({ digest: '', size: 0 }),
        putManifest: async () => '',
      };
    },
  };
}

const D = (c: string): string => `sha256:${c.repeat(64)}`;

describe('login', () => {
  it('tries https then http, skips mirrors, and returns the identity token', async () => {
    const client = fakeClient({
      endpoints: [
        { url: 'https://mirror', mirror: true },
        { url: 'https://127.0.0.1:5000', mirror: false },
        { url: 'http://127.0.0.1:5000', mirror: false },
      ],
      login: async (ep) => {
        if (ep.url.startsWith('https'))
          throw new RegistryError('Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client', 0, undefined, true);
        return { identityToken: 'tok' };
      },
    });
    const svc = new RegistryService(settings, client);
    assert.deepEqual(await svc.login('http://127.0.0.1:5000/v2/', { username: 'u', password: 'p' }), { identityToken: 'tok' });
    assert.deepEqual(client.calls, ['endpoints 127.0.0.1:5000', 'login https://127.0.0.1:5000', 'login http://127.0.0.1:5000']);
  });

  it("a 401 stops at once with dockerd's text (Basic and token)", async () => {
    const eps = [
      { url: 'https://h:1', mirror: false },
      { url: 'http://h:1', mirror: false },
    ];
    const basic = new RegistryService(
      settings,
      fakeClient({ endpoints: eps, login: async () => Promise.reject(new RegistryError('authentication required', 401)) }),
    );
    await assert.rejects(
      basic.login('h:1', {}),
      (e: Error) => e.name === 'Unauthorized' && e.message === 'login attempt to https://h:1/v2/ failed with status: 401 Unauthorized',
    );
    const token = new RegistryService(
      settings,
      fakeClient({
        endpoints: eps,
        login: async () => Promise.reject(new RegistryError('incorrect username or password', 401, 'UNAUTHORIZED')),
      }),
    );
    await assert.rejects(
      token.login('h:1', {}),
      (e: Error) => e.name === 'Unauthorized' && e.message === 'Get "https://h:1/v2/": unauthorized: incorrect username or password',
    );
  });

  it('unreachable: the last cause as a 500', async () => {
    const svc = new RegistryService(
      settings,
      fakeClient({
        login: async () => Promise.reject(new RegistryError('Get "https://reg.example/v2/": connect ECONNREFUSED', 0, undefined, true)),
      }),
    );
    await assert.rejects(svc.login('reg.example', {}), (e: Error) => e.name === 'System' && /ECONNREFUSED/.test(e.message));
  });
});

describe('search', () => {
  const results: RawSearchResult[] = [
    { name: 'busybox', description: 'tiny', star_count: 50, is_official: true, is_automated: true },
    { name: 'someone/busybox', description: 'fork', star_count: 2, is_official: false, is_automated: false },
    { name: 'other/bus', star_count: 'many' },
    'junk' as unknown as RawSearchResult,
  ];
  const client = (): ReturnType<typeof fakeClient> => fakeClient({ search: async () => ({ results }) });

  it("asks the term's index with the default limit and forces is_automated false", async () => {
    const c = client();
    const out = await new RegistryService(settings, c).search({ term: '127.0.0.1:5000/bus', limit: 0 }, undefined);
    assert.deepEqual(c.calls, ['index 127.0.0.1:5000', 'search https://reg.example bus 25']);
    assert.deepEqual(out, [
      { star_count: 50, is_official: true, name: 'busybox', is_automated: false, description: 'tiny' },
      { star_count: 2, is_official: false, name: 'someone/busybox', is_automated: false, description: 'fork' },
      { star_count: 0, is_official: false, name: 'other/bus', is_automated: false, description: '' },
    ]);
  });

  it('filters by stars and is-official; is-automated=true answers nothing without asking', async () => {
    const c = client();
    const svc = new RegistryService(settings, c);
    assert.deepEqual(
      (await svc.search({ term: 'x.io/bus', limit: 5, minStars: 3 }, undefined)).map((r) => r.name),
      ['busybox'],
    );
    assert.deepEqual(
      (await svc.search({ term: 'x.io/bus', limit: 5, isOfficial: false }, undefined)).map((r) => r.name),
      ['someone/busybox', 'other/bus'],
    );
    const calls = c.calls.length;
    assert.deepEqual(await svc.search({ term: 'x.io/bus', limit: 5, isAutomated: true }, undefined), []);
    assert.equal(c.calls.length, calls);
  });

  it('limit outside [1, 100]', async () => {
    await assert.rejects(new RegistryService(settings, client()).search({ term: 'bus', limit: 101 }, undefined), {
      message: 'limit 101 is outside the range of [1, 100]',
    });
  });

  it('an unreachable insecure index names both attempts; docker.io gives the cause', async () => {
    const refuse = async (ep: Endpoint): Promise<never> =>
      Promise.reject(new RegistryError(`Get "${ep.url}/v1/search": connect ECONNREFUSED`, 0, undefined, true));
    const insecure = fakeClient({
      endpoints: [
        { url: 'https://127.0.0.1:1', mirror: false },
        { url: 'http://127.0.0.1:1', mirror: false },
      ],
      search: refuse,
    });
    await assert.rejects(
      new RegistryService(settings, insecure).search({ term: '127.0.0.1:1/bus', limit: 0 }, undefined),
      (e: Error) =>
        e.name === 'InvalidParameter' &&
        e.message.startsWith('invalid registry endpoint "http://127.0.0.1:1/v1/". HTTPS attempt: Get "https://127.0.0.1:1/v1/search"'),
    );
    const hub = fakeClient({ endpoints: [{ url: 'https://index.docker.io', mirror: false }], search: refuse });
    await assert.rejects(
      new RegistryService(settings, hub).search({ term: 'busybox', limit: 0 }, undefined),
      (e: Error) => e.name === 'System' && /index\.docker\.io.*ECONNREFUSED/.test(e.message),
    );
  });

  it('a non-200 from the index is dockerd\'s "unexpected status code"', async () => {
    const c = fakeClient({ search: async () => Promise.reject(new RegistryError('not found', 404)) });
    await assert.rejects(new RegistryService(settings, c).search({ term: 'x.io/a', limit: 0 }, undefined), {
      message: 'unexpected status code 404',
    });
  });
});

describe('distribution inspect', () => {
  const config = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', variant: 'v8', config: {} }));
  const single = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('c'), size: config.length },
      layers: [],
    }),
  );
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: D('a'),
          size: 1,
          platform: { architecture: 'amd64', os: 'linux' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: D('b'),
          size: 1,
          platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
        },
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: D('d'),
          size: 1,
          platform: { architecture: 'unknown', os: 'unknown' },
        },
      ],
    }),
  );
  const repos: Record<string, FakeRepo> = {
    'library/one': {
      manifests: { latest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('1'), body: single } },
      blobs: { [D('c')]: config },
    },
    'team/multi': {
      manifests: {
        v1: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: D('2'), body: index },
        [D('2')]: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: D('2'), body: index },
      },
      blobs: {},
    },
    'library/old': {
      manifests: {
        latest: { mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws', digest: D('3'), body: Buffer.from('{}') },
      },
      blobs: {},
    },
  };
  const svc = (): RegistryService => new RegistryService(settings, fakeClient({ repos }));

  it('a single manifest: platform from its config', async () => {
    assert.deepEqual(await svc().distributionInspect('one', {}), {
      Descriptor: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('1'), size: single.length },
      Platforms: [{ architecture: 'arm64', os: 'linux', variant: 'v8' }],
    });
  });

  it('an index: one platform per entry, by tag or by digest', async () => {
    const want = {
      Descriptor: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: D('2'), size: index.length },
      Platforms: [
        { architecture: 'amd64', os: 'linux' },
        { architecture: 'arm64', os: 'linux', variant: 'v8' },
        { architecture: 'unknown', os: 'unknown' },
      ],
    };
    assert.deepEqual(await svc().distributionInspect('reg.example/team/multi:v1', {}), want);
    assert.deepEqual(await svc().distributionInspect(`reg.example/team/multi@${D('2')}`, {}), want);
  });

  it("errors in dockerd's words", async () => {
    await assert.rejects(
      svc().distributionInspect('nothere', {}),
      (e: Error) => e.name === 'NotFound' && e.message === 'manifest unknown: manifest unknown',
    );
    await assert.rejects(
      svc().distributionInspect('old', {}),
      (e: Error) => e.name === 'InvalidParameter' && e.message.includes('Suggest the author of docker.io/library/old:latest'),
    );
    await assert.rejects(svc().distributionInspect('a'.repeat(64), {}), { message: 'no manifest found for full image ID' });
    await assert.rejects(svc().distributionInspect('UPPER', {}), (e: Error) => e.name === 'InvalidParameter');
  });

  it("a certs.d directory with half a client pair is a 400 (moby's invalidParamf), before any request", async () => {
    const text = 'missing key client.key for client certificate client.cert. CA certificates must use the extension .crt';
    const c = fakeClient({ repos });
    c.endpointsFor = async () => Promise.reject(new RegistryError(text, 0));
    await assert.rejects(
      new RegistryService(settings, c).distributionInspect('reg.example/team/multi:v1', {}),
      (e: Error) => e.name === 'InvalidParameter' && e.message === text,
    );
    await assert.rejects(
      new RegistryService(settings, c).login('reg.example', { username: 'u', password: 'p' }),
      (e: Error) => e.name === 'InvalidParameter' && e.message === text,
    );
  });
});
