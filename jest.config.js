/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // Some dependencies ship ES modules only; Jest on Node 20 needs them as CommonJS.
    '^.+\\.m?js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(cookie|entities|content-disposition)/)'],
  testTimeout: 30000,
  // Integration suites start their own redis-server / sshd; two cores, so keep parallelism modest.
  maxWorkers: 2,
};
