import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NGINX = '/usr/sbin/nginx';

/** Skip reason for suites that need nginx: none when it is installed, and never under CI=true. */
export const nginxSkip: string | false =
  !existsSync(NGINX) && process.env.CI !== 'true' ? 'nginx is not installed (apt-get install nginx)' : false;

export interface ProxyOptions {
  /** Herald's plain HTTP port on 127.0.0.1. */
  upstreamPort: number;
  /** PEM certificate and key files nginx terminates TLS with. */
  cert: string;
  key: string;
  /** Herald's `pathPrefix`: the location of the WebSockets and of the prefixed HTTP API. */
  pathPrefix: string;
  /** `proxy_read_timeout` and `proxy_send_timeout`: longer than a silence Herald allows. */
  timeoutSeconds: number;
}

/**
 * The config of an nginx in front of Herald (docs/operations.md, "Behind a proxy"), with every file
 * it writes in `dir` so that it runs without root: TLS terminated here, WebSocket upgrades passed on,
 * the client named in `X-Forwarded-For`, paths passed on as they came (HTTP API requests are signed
 * over them), and `/apps/` too for SDKs that cannot put a prefix before it.
 */
export function nginxConfig(dir: string, port: number, options: ProxyOptions): string {
  const timeouts = `proxy_read_timeout ${options.timeoutSeconds}s;
      proxy_send_timeout ${options.timeoutSeconds}s;`;
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr notice;
events { worker_connections 256; }

http {
  access_log off;
  client_body_temp_path ${dir}/client-body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }

  upstream herald {
    server 127.0.0.1:${options.upstreamPort};
  }

  server {
    listen 127.0.0.1:${port} ssl;
    server_name localhost;
    ssl_certificate ${options.cert};
    ssl_certificate_key ${options.key};

    location ${options.pathPrefix}/ {
      proxy_pass http://herald;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      ${timeouts}
    }

    location /apps/ {
      proxy_pass http://herald;
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`;
}

/** A port nothing listens on now: nginx cannot be asked to pick one, as `listen 0` would. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An nginx master process the test started, and its port on 127.0.0.1. */
export class Nginx {
  #stderr = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly child: ChildProcess,
    readonly exited: Promise<void>,
  ) {}

  /**
   * Starts nginx with `nginxConfig` in a temporary folder, on a free port; resolves once it listens
   * (its "start worker process" notice), rejects with its log if it exits first. A port taken in the
   * meantime by someone else is retried with another.
   */
  static async start(options: ProxyOptions): Promise<Nginx> {
    let failure = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      const dir = await mkdtemp(join(tmpdir(), 'herald-nginx-'));
      // As root nginx runs its workers as another user, who must reach the temporary folders.
      if (process.getuid?.() === 0) await chmod(dir, 0o755);
      const port = await freePort();
      const conf = join(dir, 'nginx.conf');
      await writeFile(conf, nginxConfig(dir, port, options));
      const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', 'stderr'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const nginx = new Nginx(dir, port, child, exited);
      const started = await new Promise<boolean>((resolve) => {
        child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
          nginx.#stderr += chunk;
          if (nginx.#stderr.includes('start worker process')) resolve(true);
        });
        child.once('error', (err) => {
          nginx.#stderr += String(err);
          resolve(false);
        });
        child.once('exit', () => resolve(false));
      });
      if (started) return nginx;
      failure = nginx.#stderr;
      await rm(dir, { recursive: true, force: true });
      if (!failure.includes('Address already in use')) break;
    }
    throw new Error(`nginx did not start:\n${failure}`);
  }

  /** What nginx wrote to its error log (stderr) so far. */
  log(): string {
    return this.#stderr;
  }

  /** Stops the master process (SIGTERM: a fast shutdown, which ends its workers) and removes its folder. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
    await rm(this.dir, { recursive: true, force: true });
  }
}
