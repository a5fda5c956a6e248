import type { ChildProcess } from 'node:child_process';

/**
 * What a child process spawned with piped stdout and stderr printed, and its exit code, once it has
 * ended and everything it wrote has been read ('close', not 'exit').
 */
export function childOutput(
  child: ChildProcess,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}
