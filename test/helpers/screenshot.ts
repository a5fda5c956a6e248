import type { Browser } from 'playwright-core';

/**
 * Counts the distinct colours of a PNG (up to 50) in the browser, as source text: the project's types
 * have no DOM.
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
 * How many distinct colours a screenshot has (up to 50), counted in a blank page of `browser` (pages
 * with a CSP may forbid data: images): a blank page has one, a page with text on it more than five.
 */
export async function distinctColours(browser: Browser, png: Buffer): Promise<number> {
  const page = await browser.newPage();
  try {
    return await page.evaluate<number>(`(${COUNT_COLOURS})(${JSON.stringify(png.toString('base64'))})`);
  } finally {
    await page.close();
  }
}
