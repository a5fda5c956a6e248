import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { within } from '../helpers/raw-client.js';

/**
 * The package as an operator gets it: `npm pack` (whose prepack script builds), then
 * `npm install -g` of the tarball into a prefix of its own, then `herald start` and `herald doctor`
 * from that prefix, with nothing of the repository (dev dependencies included) in reach.
 */

const run = promisify(execFile);
/** The folder that holds package.json, bin/ and dist/ (the repository, or a copy laid out like it). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const GUARD_MS = 120_000;

/**
 * Why the test skips, or false when it runs: it installs the production dependencies from the npm
 * registry. With CI=true it always runs, so that a registry out of reach fails the suite.
 */
async function packageSkip(): Promise<string | false> {
  if (process.env.CI === 'true') return false;
  const reachable = await run('npm', ['ping'], { timeout: 15_000, env: npmEnv() }).then(
    () => true,
    () => false,
  );
  return reachable
    ? false
    : 'the npm registry is not reachable (npm ping), and installing the package needs it';
}

/** The environment without what `npm test` and the repository put in it (npm_*, NODE_PATH, HERALD_*). */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(npm_|NODE_PATH$|NODE_OPTIONS$|NODE_TEST_CONTEXT$|HERALD_)/i.test(k),
    ),
  );
}

describe('the npm package', { skip: await packageSkip(), timeout: 4 * GUARD_MS }, () => {
  let dir: string;
  let tarball: string;
  let files: string[];
  let prefix: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-package-'));
    // A copy of the sources, so that the build `npm pack` runs cannot touch the one the suite runs.
    const source = join(dir, 'source');
    for (const entry of [
      'package.json',
      'tsconfig.json',
      'README.md',
      'LICENSE',
      'bin',
      'src',
      'test',
      'bench',
      'packages',
    ]) {
      await cp(join(ROOT, entry), join(source, entry), { recursive: true, dereference: true });
    }
    await symlink(await realpath(join(ROOT, 'node_modules')), join(source, 'node_modules'));
    const packed = await within(
      run('npm', ['pack', '--json', '--pack-destination', dir], {
        cwd: source,
        env: npmEnv(),
        maxBuffer: 64 << 20,
      }),
      GUARD_MS,
      'npm pack',
    );
    // Should the build print anything on stdout, it comes before the JSON.
    const json = JSON.parse(packed.stdout.slice(Math.max(0, packed.stdout.indexOf('[\n')))) as {
      filename: string;
      files: { path: string }[];
    }[];
    tarball = join(dir, json[0]!.filename);
    files = json[0]!.files.map((f) => f.path).sort();
    prefix = join(dir, 'prefix');
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('holds the compiled server, bin, README, LICENSE and package.json only', async () => {
    const outside = files.filter(
      (f) =>
        !/^(dist\/src\/.+\.js|dist\/src\/dashboard\/ui\/app\.css|dist\/src\/dashboard\/ui\/index\.html|bin\/herald\.js|README\.md|LICENSE|package\.json)$/.test(
          f,
        ),
    );
    assert.deepEqual(outside, []);
    for (const needed of [
      'bin/herald.js',
      'dist/src/cli/main.js',
      'dist/src/cli/doctor.js',
      'dist/src/server.js',
      'dist/src/dashboard/ui/index.html',
      'dist/src/dashboard/ui/app.js',
      'dist/src/dashboard/ui/app.css',
    ]) {
      assert.ok(files.includes(needed), `${needed} is not in the package`);
    }
    // `tar` lists what the tarball really holds, under package/.
    const { stdout } = await run('tar', ['-tzf', tarball]);
    assert.deepEqual(
      stdout
        .trim()
        .split('\n')
        .map((p) => p.replace(/^package\//, ''))
        .sort(),
      files,
    );
  });

  test('runs no script when installed: nothing needs TypeScript there', async () => {
    const { stdout } = await run('tar', ['-xzOf', tarball, 'package/package.json']);
    const scripts = (JSON.parse(stdout) as { scripts?: Record<string, string> }).scripts ?? {};
    const atInstall = ['preinstall', 'install', 'postinstall', 'prepare'].filter((s) => s in scripts);
    assert.deepEqual(atInstall, []);
  });

  test('installs globally into a prefix; herald start answers /ready, doctor passes, SIGTERM exits 0', async () => {
    const install = await within(
      run('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', tarball], {
        cwd: dir,
        env: npmEnv(),
        maxBuffer: 64 << 20,
      }),
      GUARD_MS,
      'npm install -g',
    );
    assert.doesNotMatch(install.stderr, /ERR!/);
    // npm lists the dependencies whose install scripts nobody approved: only cbor-extract may be there,
    // the optional native decoder of cbor-x, which works without it (docs/operations.md).
    const unapproved = [...install.stderr.matchAll(/^npm warn install-scripts {3}(\S+)@/gm)].map((m) => m[1]);
    assert.deepEqual(
      unapproved.filter((name) => name !== 'cbor-extract'),
      [],
    );
    const installed = join(prefix, 'lib', 'node_modules', 'herald');
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    // A dev dependency may be there as the dependency or peer of a production one (mysql2 names
    // @types/node as a peer, which npm installs).
    const needed = await dependenciesOf(join(installed, 'node_modules'));
    for (const dev of Object.keys(manifest.devDependencies)) {
      if (needed.has(dev)) continue;
      assert.ok(!existsSync(join(installed, 'node_modules', dev)), `the dev dependency ${dev} was installed`);
    }
    assert.ok(existsSync(join(installed, 'node_modules', 'ws')), 'the production dependencies are missing');

    const bin = join(prefix, 'bin', 'herald');
    const env = npmEnv();
    const child = spawn(bin, ['start', '--host', '127.0.0.1', '--port', '0'], { cwd: dir, env });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const port = await within(
        new Promise<number>((resolve, reject) => {
          child.stdout.setEncoding('utf8').on('data', (c: string) => {
            out += c;
            const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
            if (m) resolve(Number(m[1]));
          });
          exited.then((code) =>
            reject(new Error(`herald exited (${code}) before listening:\n${out}\n${err}`)),
          );
        }),
        GUARD_MS,
        'the installed herald to listen',
      );
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      assert.equal(ready.status, 200);
      await ready.arrayBuffer();

      const doctor = await within(
        run(bin, ['doctor', '--url', `http://127.0.0.1:${port}`], { cwd: dir, env }).catch(
          (e: { code: number; stdout: string }) => e,
        ),
        GUARD_MS,
        'the installed herald doctor',
      );
      assert.match(doctor.stdout, /✓ delivery .*\nHealthy\.\n$/s, doctor.stdout);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await within(exited, GUARD_MS, 'herald to exit after SIGTERM'), 0, `${out}\n${err}`);
  });
});

/** The packages the packages installed in `modules` (a flat node_modules) depend on, peers included. */
async function dependenciesOf(modules: string): Promise<Set<string>> {
  const names: string[] = [];
  for (const entry of await readdir(modules)) {
    if (entry.startsWith('@'))
      names.push(...(await readdir(join(modules, entry))).map((n) => `${entry}/${n}`));
    else if (!entry.startsWith('.')) names.push(entry);
  }
  const needed = new Set<string>();
  for (const name of names) {
    const manifest = JSON.parse(await readFile(join(modules, name, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
    };
    const wanted = { ...manifest.dependencies, ...manifest.peerDependencies };
    for (const dependency of Object.keys(wanted)) needed.add(dependency);
  }
  return needed;
}
