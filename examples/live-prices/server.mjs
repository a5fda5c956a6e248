// The live-prices example's backend: serves the page and publishes a price on the cache channel
// `cache-prices` every second (PRICE_EVERY_MS), a random walk from 100. Herald keeps the last one, so
// a page that subscribes between two prices shows the last at once instead of waiting.
import { fileURLToPath } from 'node:url';
import { pusher } from '../lib/pusher-sdk.mjs';
import { serveExample } from '../lib/serve.mjs';

const EVERY_MS = Number(process.env.PRICE_EVERY_MS ?? 1000);
let price = 100;

setInterval(async () => {
  const previous = price;
  price = Math.max(0.01, Math.round(price * (1 + (Math.random() - 0.5) / 50) * 100) / 100);
  try {
    await pusher.trigger('cache-prices', 'price', { symbol: 'HRLD', price, previous, at: Date.now() });
  } catch (error) {
    console.error(`could not publish the price: ${error.message}`);
  }
}, EVERY_MS);

serveExample({ root: fileURLToPath(new URL('.', import.meta.url)) });
