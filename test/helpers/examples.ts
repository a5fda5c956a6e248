import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** A file of examples/ in the checkout (the examples are plain JavaScript, run as they are). */
export const exampleFile = (path: string) =>
  fileURLToPath(new URL(`../../../examples/${path}`, import.meta.url));

/** One example's web server, running as `node examples/<name>/server.mjs` on a free port. */
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
export async function startExample(
  script: string,
  heraldPort: number,
  env: Record<string, string> = {},
): Promise<RunningExample> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('HERALD_') && k !== 'NODE_TEST_CONTEXT'),
  );
  const child = spawn(process.execPath, [exampleFile(script)], {
    env: {
      ...base,
      PORT: '0',
      HERALD_HOST: '127.0.0.1',
      HERALD_PORT: String(heraldPort),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = once(child, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      output += chunk;
      const found = /Example at (http:\/\/\S+\/)/.exec(output);
      if (found) resolve(found[1]!);
    });
    exited.then(() => reject(new Error(`examples/${script} exited before listening:\n${output}`)));
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
