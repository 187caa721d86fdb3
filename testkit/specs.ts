import path from 'node:path';

/**
 * Where the vendored specifications live: `<repo>/specs`, each listed with its origin,
 * licence and sha256 in specs/SOURCES.md.
 */
export const SPECS_DIR = path.resolve(__dirname, '../specs');
