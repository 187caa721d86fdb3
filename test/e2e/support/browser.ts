import { accessSync, constants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium (package `chromium`); `CHROMIUM_PATH` points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots and other artefacts of browser tests: under `.ci/out/` (ignored by git, kept by CI). */
export const ARTIFACTS_DIR = path.join(__dirname, '..', '..', '..', '.ci', 'out', 'artifacts');

/**
 * Flags this machine needs: no sandbox (tests run as root), no GPU, and no background
 * connections to Google's hosts, which the closed network refuses. The fresh, empty
 * `--user-data-dir` comes from Playwright itself: `launch()` makes a new temporary profile
 * each time and deletes it on close (it refuses a `--user-data-dir` argument).
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Starts headless Chromium with a fresh profile. Fails (never skips) when Chromium is not
 * installed, saying how to install it.
 */
export async function launchChromium(): Promise<Browser> {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}: the dashboard end-to-end test needs a real browser. ` +
        'Install Debian\'s package with `apt-get update && apt-get install -y chromium` (.ci/run does this on CI), ' +
        'or set CHROMIUM_PATH to a Chromium or Chrome binary.',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS, timeout: 15_000 });
}

/**
 * Lets the context reach only `origin`: anything else (bull-board's UI asks fonts.googleapis.com
 * for its fonts) is aborted at once instead of waiting on DNS in a closed network. Returns the
 * URLs that were refused.
 */
export async function onlyOrigin(context: BrowserContext, origin: string): Promise<string[]> {
  const refused: string[] = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (new URL(url).origin === origin) return route.continue();
    refused.push(url);
    return route.abort('blockedbyclient');
  });
  return refused;
}

/** Screenshots of the operator console's pages: under `.ci/out/screenshots/` (CI artefacts). */
export const SCREENSHOTS_DIR = path.join(__dirname, '..', '..', '..', '.ci', 'out', 'screenshots');

/** Where the console screenshot named `name` goes (the folder is created). */
export function screenshotPath(name: string): string {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  return path.join(SCREENSHOTS_DIR, name);
}

/** Where a screenshot named `name` goes (the folder is created). */
export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return path.join(ARTIFACTS_DIR, name);
}
