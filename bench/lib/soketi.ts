/**
 * Soketi for the side-by-side comparison, installed into a bench-only folder (never a dependency of
 * Herald). Soketi 1.6.1 names uWebSockets.js by a GitHub URL; the override maps it to a registry build
 * of the same library that ships prebuilt binaries.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SOKETI_VERSION = '1.6.1';
export const UWS_BUILD = '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0';

const MANIFEST = {
  name: 'herald-bench-soketi',
  private: true,
  description: 'Soketi for the Herald benchmark only; installed by npm run bench',
  dependencies: { '@soketi/soketi': SOKETI_VERSION },
  overrides: { 'uWebSockets.js': `npm:${UWS_BUILD}` },
};

function installedVersion(dir: string): string | undefined {
  try {
    const pkg = path.join(dir, 'node_modules/@soketi/soketi/package.json');
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Does the native WebSocket module load on this machine's Node? Returns the error text otherwise. */
function uwsProblem(dir: string): string | undefined {
  const r = spawnSync(process.execPath, ['-e', "require('uWebSockets.js')"], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return r.status === 0 ? undefined : (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n')[0];
}

function npmInstall(dir: string, logFile: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 5 * 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, out: `${out}\n${err.message}` });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      writeFileSync(logFile, out);
      resolve({ ok: code === 0, out });
    });
  });
}

/** Whether Soketi can run, and which build, or why not. */
export type SoketiStatus = { ok: true; version: string; uws: string } | { ok: false; reason: string };

/**
 * Makes sure Soketi is installed in `dir`. Resolves `{ ok: true, version }` or `{ ok: false, reason }`;
 * never throws, so the bench can go on with Herald alone.
 */
export async function ensureSoketi(
  dir: string,
  { install = true, log = (_msg: string) => {} }: { install?: boolean; log?: (msg: string) => void } = {},
): Promise<SoketiStatus> {
  try {
    if (installedVersion(dir) !== SOKETI_VERSION) {
      if (!install) return { ok: false, reason: `not installed in ${dir} (and --no-install was given)` };
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(MANIFEST, null, 2)}\n`);
      log(`installing @soketi/soketi@${SOKETI_VERSION} into ${dir} …`);
      const result = await npmInstall(dir, path.join(dir, 'install.log'));
      if (!result.ok) {
        const last = result.out.trim().split('\n').slice(-3).join(' | ');
        return { ok: false, reason: `npm install failed: ${last}` };
      }
      if (installedVersion(dir) !== SOKETI_VERSION) {
        return { ok: false, reason: 'npm install finished but @soketi/soketi is missing' };
      }
    }
    const problem = uwsProblem(dir);
    if (problem)
      return { ok: false, reason: `uWebSockets.js does not load on Node ${process.version}: ${problem}` };
    if (!existsSync(path.join(dir, 'node_modules/@soketi/soketi/bin/server.js'))) {
      return { ok: false, reason: 'soketi bin/server.js missing' };
    }
    return { ok: true, version: SOKETI_VERSION, uws: UWS_BUILD };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
