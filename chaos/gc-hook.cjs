// Preloaded into worker processes by the chaos harness's memory scenario
// (NODE_OPTIONS="--expose-gc --require chaos/gc-hook.cjs"): SIGUSR2 runs a full garbage
// collection, so that heap figures compare live objects rather than garbage not yet collected.
if (typeof globalThis.gc === 'function') {
  globalThis.process.on('SIGUSR2', () => globalThis.gc());
}
