/**
 * The layering of docs/architecture.md, as a check. The core is pure: domain logic, formats,
 * planning and carrier request builders take data and return data; they may not reach queues,
 * networks, files or processes. Plug-ins do not borrow from their siblings, and nothing in the
 * production tree reaches the test kit, the demo or the tests.
 */
const IO_MODULES = '^(node:)?(fs|fs/promises|net|tls|http|https|http2|dgram|child_process|cluster|worker_threads|readline)$';
// Packages resolve to their files under node_modules, so match the folder, not the name.
const IO_PACKAGES = '(^|/)node_modules/(bullmq|ioredis|fastify|undici|ssh2|ssh2-sftp-client|nodemailer|pino|commander|@bull-board|smtp-server|openpgp)/';
const PURE = [
  '^src/(core|formats|planning)/',
  '^src/carriers/(carrier|index|field-limits|client-options|json|reference)\\.ts$',
  '^src/carriers/[^/]+/(request|options)\\.ts$',
  // The store platforms' interface and option schemas (their clients are edges).
  '^src/stores/(store|options)\\.ts$',
  '^src/stores/[^/]+/options\\.ts$',
  // The error catalogue and classes (src/core throws them); unrecoverable.ts is the edge part.
  '^src/errors/(catalogue|dropship-error|delivery-error|failure|index)\\.ts$',
];
const EDGES = '^(src/(queue|api|cli|config/load|app|demo|ops|ledger|telemetry|transports)|workers/)';

module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'the pure core (core, formats, planning, carrier request builders) must not import I/O modules',
      severity: 'error',
      from: { path: PURE },
      to: { path: [IO_MODULES, IO_PACKAGES], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'pure-uses-no-edges',
      comment: 'the pure core must not import the edges (queues, API, CLI, transports, config loading, workers)',
      severity: 'error',
      from: { path: PURE },
      to: {
        path: [EDGES, '^src/carriers/(api-client|oauth-tokens|credentials)\\.ts$', '^src/(carriers|stores)/[^/]+/client\\.ts$', '^src/stores/(http-client|index)\\.ts$'],
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'core-imports-no-plug-ins',
      comment: 'src/core is the domain: it may use the plug-in interfaces as types, never a plug-in or the planning above it',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/(formats|carriers|transports|planning|sources)/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'formats-stand-alone',
      comment: 'a format uses the format interface and shared modules, never a sibling format',
      severity: 'error',
      from: { path: '^src/formats/([^/]+)\\.ts$', pathNot: '^src/formats/index\\.ts$' },
      to: { path: '^src/formats/', pathNot: '^src/formats/($1|format)\\.ts$' },
    },
    {
      name: 'inbound-formats-stand-alone',
      comment: 'an inbound format reads one kind of supplier document: it uses the inbound interface (format.ts), the shared X12 envelope reader, src/core, src/errors and npm parsers; never a sibling, an outbound format or any other part of the pipeline',
      severity: 'error',
      from: { path: '^src/formats/inbound/([^/]+)\\.ts$', pathNot: '^src/formats/inbound/index\\.ts$' },
      to: { path: '^(src|workers|testkit)/', pathNot: ['^src/formats/inbound/($1|format|x12-envelope)\\.ts$', '^src/core/', '^src/errors/'] },
    },
    {
      name: 'inbound-formats-registry',
      comment: 'the inbound registry lists the inbound formats and nothing else of the pipeline',
      severity: 'error',
      from: { path: '^src/formats/inbound/index\\.ts$' },
      to: { path: '^(src|workers|testkit)/', pathNot: ['^src/formats/inbound/', '^src/core/', '^src/errors/'] },
    },
    {
      name: 'formats-borrow-from-no-other-kind',
      comment: 'a format renders a view; it takes shared text helpers from src/core, never from carriers, transports or sources',
      severity: 'error',
      from: { path: '^src/formats/' },
      to: { path: '^src/(carriers|transports|sources|planning)/' },
    },
    {
      name: 'carriers-stand-alone',
      comment: 'a carrier uses the shared carrier modules, never another carrier\'s folder',
      severity: 'error',
      from: { path: '^src/carriers/([^/]+)/' },
      to: { path: '^src/carriers/[^/]+/', pathNot: '^src/carriers/$1/' },
    },
    {
      name: 'stores-stand-alone',
      comment: 'a store platform uses the shared store modules (store, options, http-client), never another platform\'s folder',
      severity: 'error',
      from: { path: '^src/stores/([^/]+)/' },
      to: { path: '^src/stores/[^/]+/', pathNot: '^src/stores/$1/' },
    },
    {
      name: 'stores-use-shared-transport-parts',
      comment: 'store clients use the shared HTTP helpers only, never a transport, a carrier or a queue',
      severity: 'error',
      from: { path: '^src/stores/' },
      to: { path: ['^src/transports/', '^src/carriers/', '^src/queue/'], pathNot: '^src/transports/(transport|http)\\.ts$' },
    },
    {
      name: 'carriers-use-shared-transport-parts',
      comment: 'carrier clients are transports: they use the transport interface and the shared HTTP helpers, never another transport',
      severity: 'error',
      from: { path: '^src/carriers/' },
      to: { path: '^src/transports/', pathNot: '^src/transports/(transport|http)\\.ts$' },
    },
    {
      name: 'transports-stand-alone',
      comment: 'a transport uses the transport interface and the shared modules (http, pgp, mime), never a sibling transport',
      severity: 'error',
      from: { path: '^src/transports/([^/.]+)', pathNot: '^src/transports/(registry|factory|recording)\\.ts$' },
      to: { path: '^src/transports/', pathNot: '^src/transports/($1|transport|http|pgp|mime)(\\.ts$|/)' },
    },
    {
      name: 'production-has-no-testkit',
      comment: 'src and workers must not import the test kit, the demo, the tests or the benches',
      severity: 'error',
      from: { path: '^(src|workers)/' },
      to: { path: '^(testkit|demo|test|bench|chaos)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(test|bench|dist)/' },
  },
};
