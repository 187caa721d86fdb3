/**
 * The core is pure (docs/architecture.md): domain logic, formats and carrier builders take data and
 * return data. They may not reach queues, networks, files, processes or clocks' owners.
 */
const IO_MODULES = '^(node:)?(fs|fs/promises|net|tls|http|https|http2|dgram|child_process|cluster|worker_threads|readline)$';
// Packages resolve to their files under node_modules, so match the folder, not the name.
const IO_PACKAGES = '(^|/)node_modules/(bullmq|ioredis|fastify|undici|ssh2|ssh2-sftp-client|nodemailer|pino|commander|@bull-board|smtp-server|openpgp)/';
const CORE = '^src/(domain|formats|carriers)/';

module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'src/domain, src/formats and src/carriers must not import I/O modules',
      severity: 'error',
      from: { path: CORE },
      to: { path: [IO_MODULES, IO_PACKAGES], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'core-uses-no-edges',
      comment: 'the core must not import the edges (queues, API, CLI, transports\' implementations, config loading)',
      severity: 'error',
      from: { path: CORE },
      to: {
        path: '^(src/(queue|api|cli|config/load|pipeline|producer|embedded-redis|log|demo|ops|ledger|metrics)|workers/)',
        dependencyTypesNot: ['type-only'],
      },
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
