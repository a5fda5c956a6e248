// What the pages share: where the router is, and a log on the page (and in the console).

// The router URL: Herald's, from /config.js; ?router=wss://example.com/ws points a page elsewhere (a
// Crossbar router, say).
window.ROUTER = new URLSearchParams(location.search).get('router') || `ws://${HERALD.host}:${HERALD.port}/ws`;

window.log = (line) => {
  console.log(line);
  document.getElementById('log').textContent += `${line}\n`;
};
