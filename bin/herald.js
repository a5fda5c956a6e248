#!/usr/bin/env -S node --max-semi-space-size=2
// The flag keeps V8's young generation small: an idle server's memory stays close to what its
// connections need (docs/performance.md, "Memory"). `npm start` passes the same.
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
