// The layer rules of docs/architecture.md, checked on every `npm run lint` (so in `npm test` and
// .ci/run). Layers, top to bottom:
//   api/      HTTP routes: parse, call a daemon service, write the reply
//   daemon/   services (one area per resource: containers, images, networks, ...), main.ts wiring
//   runtime/ (containerd, OCI), network/ (netlink, nftables, DNS), store/ (SQLite), registry/
//             (distribution client): Docker-agnostic, independent of each other
//   lib/      typed errors, int64 and other leaf helpers
// Type-only imports count (tsPreCompilationDeps), so a cycle through `import type` fails too.
// .dependency-cruiser-known-violations.json lists violations tolerated for now (each one a debt,
// never a new edge); it is empty. Regenerate with `npx depcruise-baseline` only when removing
// entries.

const LOWER = '^(runtime|network|store|registry)/';
/** daemon areas below containers: they serve it and never reach back up. */
const BASE_AREAS = 'images|networks|volumes|logs|registry|oci';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Modules form a DAG; type-only imports included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'lower-layers-not-up',
      severity: 'error',
      comment: 'runtime/, network/, store/, registry/ and lib/ know nothing of Docker\'s daemon or HTTP API.',
      from: { path: '^(runtime|network|store|registry|lib)/' },
      to: { path: '^(daemon|api|bench|test)/' },
    },
    {
      name: 'lib-is-the-bottom',
      severity: 'error',
      comment: 'lib/ imports only lib/ (and node or npm modules).',
      from: { path: '^lib/' },
      to: { path: '^(runtime|network|store|registry)/' },
    },
    {
      name: 'lower-layers-independent',
      severity: 'error',
      comment: 'runtime/, network/, store/ and registry/ do not import each other; what they share goes to lib/.',
      from: { path: '^(runtime|network|store|registry)/' },
      to: { path: LOWER, pathNot: '^$1/' },
    },
    {
      name: 'api-only-through-services',
      severity: 'error',
      comment:
        'Routes call daemon services. Below them api/ may use only the registry client\'s vocabulary ' +
        '(registry/types.ts) and its platform parser (registry/manifest.ts parsePlatform, as moby\'s routers ' +
        'call containerd\'s platforms.Parse).',
      from: { path: '^api/' },
      to: { path: LOWER, pathNot: '^registry/(types|manifest)\\.ts$' },
    },
    {
      name: 'daemon-areas-not-up',
      severity: 'error',
      comment:
        `daemon/{${BASE_AREAS}} serve containers and never import daemon/containers, exec or system. ` +
        'daemon/containers/api-types.ts (the Engine API\'s type vocabulary) is open to all.',
      from: { path: `^daemon/(${BASE_AREAS})/` },
      to: { path: '^daemon/(containers|exec|system)/', pathNot: '^daemon/containers/api-types\\.ts$' },
    },
    {
      name: 'daemon-areas-not-sideways',
      severity: 'error',
      comment:
        `daemon/{${BASE_AREAS}} do not import each other's modules; daemon/images/reference.ts (Docker's ` +
        'reference grammar) and daemon/registry/errors.ts (registry failures in dockerd words, for pull and push) are shared. Anything else they share goes to a daemon/*.ts module or lib/.',
      from: { path: `^daemon/(${BASE_AREAS})/` },
      to: { path: `^daemon/(${BASE_AREAS})/`, pathNot: ['^daemon/$1/', '^daemon/images/reference\\.ts$', '^daemon/registry/errors\\.ts$'] },
    },
    {
      name: 'containers-not-up',
      severity: 'error',
      comment: 'daemon/containers is used by exec and system, never the other way round.',
      from: { path: '^daemon/containers/' },
      to: { path: '^daemon/(exec|system)/' },
    },
    {
      name: 'build-on-top',
      severity: 'error',
      comment: 'daemon/build drives the container and image services through ports; none of them imports it.',
      from: { path: `^daemon/(containers|exec|system|${BASE_AREAS})/` },
      to: { path: '^daemon/build/' },
    },
    {
      name: 'exec-not-up',
      severity: 'error',
      from: { path: '^daemon/exec/' },
      to: { path: '^daemon/system/' },
    },
    {
      name: 'daemon-not-api',
      severity: 'error',
      comment: 'Services know nothing of HTTP: api/ maps their typed errors and results. main.ts, the composition root, starts the server.',
      from: { path: '^daemon/', pathNot: '^daemon/main\\.ts$' },
      to: { path: '^api/' },
    },
    {
      name: 'no-test-code-in-product',
      severity: 'error',
      from: { path: '^(api|daemon|runtime|network|store|registry|lib)/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json', '.node'] },
  },
};
