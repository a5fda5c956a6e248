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

/**
 * Counts the distinct colours (up to 50) of a base64 PNG on a canvas; browser-side source text, as
 * the project's types have no DOM.
 */
const COUNT_COLOURS = `async (base64) => {
  const image = new Image();
  image.src = 'data:image/png;base64,' + base64;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(image, 0, 0);
  const { data } = ctx.getImageData(0, 0, image.width, image.height);
  const seen = new Set();
  for (let i = 0; i < data.length && seen.size < 50; i += 4) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  return seen.size;
}`;

/**
 * How many distinct colours a PNG (a screenshot) has, up to 50, counted in a blank page of `browser`
 * (a page under a strict CSP, like the dashboard's, could not load the data: image). A blank
 * screenshot has one.
 */
export async function pngColours(browser: Browser, png: Buffer): Promise<number> {
  const page = await browser.newPage();
  try {
    return await page.evaluate<number>(`(${COUNT_COLOURS})(${JSON.stringify(png.toString('base64'))})`);
  } finally {
    await page.close();
  }
}
