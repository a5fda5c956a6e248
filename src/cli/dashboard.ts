import { hashPassword } from '../dashboard/auth.js';

const USAGE = `Usage:
  herald dashboard hash-password    read a password from standard input (one line; on a terminal,
                                    asked for without echo) and print its hash for dashboard.users[].passwordHash

The hash is scrypt (N=16384, r=8, p=1) with a random salt: scrypt$N$r$p$<salt>$<hash>.
  echo 's3cret' | herald dashboard hash-password`;

/** `herald dashboard <command>`: what the dashboard's configuration needs. Resolves with the exit code. */
export async function dashboard(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command !== 'hash-password' || rest.length > 0) {
    process.stderr.write(
      `${command === undefined ? '' : `herald dashboard: unknown command "${args.join(' ')}"\n\n`}${USAGE}\n`,
    );
    return 2;
  }
  const password = process.stdin.isTTY ? await promptHidden('Password: ') : firstLine(await readAll());
  if (password === undefined || password === '') {
    process.stderr.write('herald dashboard hash-password: no password given (an empty one is refused)\n');
    return 2;
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The first line of `text` without its line ending; undefined for no input at all. */
function firstLine(text: string): string | undefined {
  if (text === '') return undefined;
  return text.split('\n')[0]!.replace(/\r$/, '');
}

/**
 * A line typed on the terminal without echo (raw mode): Enter ends it, Backspace takes back a
 * character, Ctrl-C or Ctrl-D gives up. The prompt goes to standard error, so that standard output
 * holds the hash alone.
 */
function promptHidden(prompt: string): Promise<string | undefined> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve) => {
    let line = '';
    const done = (value: string | undefined) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      resolve(value);
    };
    const onData = (chunk: string) => {
      for (const c of chunk) {
        if (c === '\r' || c === '\n') return done(line);
        if (c === '\u0003' || c === '\u0004') return done(undefined);
        if (c === '\u007f' || c === '\b') line = line.slice(0, -1);
        else line += c;
      }
    };
    stdin.on('data', onData);
  });
}
