import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A file of examples/ in the checkout (the examples are plain JavaScript, run as they are). */
export const exampleFile = (path: string) =>
  fileURLToPath(new URL(`../../../examples/${path}`, import.meta.url));

/** Debian's PHP (`apt-get install php-cli`), which runs the Laravel example without Composer. */
export const PHP = '/usr/bin/php';

/** Skip reason for tests that run PHP: none when it is installed, and never under CI=true. */
export const phpSkip: string | false =
  !existsSync(PHP) && process.env.CI !== 'true' ? 'php is not installed (apt-get install php-cli)' : false;

/** One example's web server, running on a free port. */
export interface RunningExample {
  /** Where it serves, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  readonly child: ChildProcess;
  /** What it printed so far, both streams. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `examples/<script>` (default `<name>/server.mjs`) pointed at Herald's `port` with the default
 * app, or the app in `env` (`HERALD_APP_ID`, …), and resolves once it prints its address; rejects if
 * it exits first.
 */
export function startExample(
  script: string,
  heraldPort: number,
  env: Record<string, string> = {},
): Promise<RunningExample> {
  return startServer(
    process.execPath,
    [exampleFile(script)],
    { PORT: '0', HERALD_HOST: '127.0.0.1', HERALD_PORT: String(heraldPort), ...env },
    /Example at (http:\/\/\S+\/)/,
    `examples/${script}`,
  );
}

/**
 * Serves `examples/<name>/public` with PHP's built-in web server on a free port, `public/index.php`
 * as its router, with `env` added to its environment (the example's .env settings, say); resolves once
 * PHP prints its address.
 */
export function startPhpExample(name: string, env: Record<string, string> = {}): Promise<RunningExample> {
  if (!existsSync(PHP))
    throw new Error('php is not installed (apt-get install php-cli); required when CI=true');
  return startServer(
    PHP,
    ['-S', '127.0.0.1:0', '-t', exampleFile(`${name}/public`), exampleFile(`${name}/public/index.php`)],
    env,
    /Development Server \((http:\/\/[^)\s]+)\) started/,
    `php -S for examples/${name}`,
    (url) => `${url}/`,
  );
}

/**
 * Runs `command` with `env` added to the test's environment (less `HERALD_*` and the test runner's
 * variables) and resolves with its URL once its output matches `listening`; rejects if it exits first.
 */
async function startServer(
  command: string,
  args: string[],
  env: Record<string, string>,
  listening: RegExp,
  what: string,
  toUrl: (found: string) => string = (found) => found,
): Promise<RunningExample> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
  );
  const child = spawn(command, args, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    const read = (chunk: string) => {
      output += chunk;
      const found = listening.exec(output);
      if (found) resolve(toUrl(found[1]!));
    };
    child.stdout!.setEncoding('utf8').on('data', read);
    child.stderr!.setEncoding('utf8').on('data', read);
    exited.then(() => reject(new Error(`${what} exited before listening:\n${output}`)));
  });
  return {
    url,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited.catch(() => undefined);
    },
  };
}
