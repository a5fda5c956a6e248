import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium on the PATH (`apt-get install chromium`), if installed. */
export const chromiumPath: string | undefined = (process.env.PATH ?? '')
  .split(delimiter)
  .flatMap((dir) => ['chromium', 'chromium-browser'].map((name) => join(dir, name)))
  .find((file) => existsSync(file));

/** Skip reason for suites that need Chromium: none when it is installed, and never under CI=true. */
export const chromiumSkip: string | false =
  chromiumPath === undefined && process.env.CI !== 'true'
    ? 'chromium is not installed (apt-get install chromium)'
    : false;

/**
 * Headless Chromium with the flags this machine needs (no sandbox as root, no background network), and
 * `args` after them.
 */
export function launchChromium(args: readonly string[] = []): Promise<Browser> {
  if (!chromiumPath)
    throw new Error('chromium is not installed (apt-get install chromium); required when CI=true');
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', ...args],
  });
}
