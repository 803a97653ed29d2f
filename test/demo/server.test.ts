import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

/** `npm run demo` as a child process, with its output, until it exits or prints `until`. */
function runDemo(env: Record<string, string>, until?: RegExp) {
  const child = spawn(TSX, ['demo/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env, SMSTOOLS_CLIENT_ID: '', NODE_ENV: 'development' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const check = () => {
      if (until?.test(out)) resolve({ code: null, out, err });
    };
    child.stdout.on('data', (chunk) => {
      out += chunk;
      check();
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

const children: ChildProcess[] = [];
let blocker: Server | undefined;
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGTERM');
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

describe('npm run demo', { timeout: 60_000 }, () => {
  it('says the port is in use and how to pick another, instead of a TypeError', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const run = await runDemo({ PORT: String(port) });
    expect(run.code).toBe(1);
    expect(run.err).toContain(`Port ${port} is in use`);
    expect(run.err).toContain('PORT=');
    expect(run.err).not.toMatch(/TypeError|at .*\.ts:\d+/);
  });

  it('takes the code lifetime from CODE_TTL_MS and prints it', async () => {
    const run = await runDemo({ PORT: '0', CODE_TTL_MS: '20000' }, /Ctrl\+C/);
    expect(run.out).toMatch(/Codes expire after 20 s \(CODE_TTL_MS=20000\)/);
  });

  it('names CODE_TTL_MS when its value cannot work', async () => {
    const run = await runDemo({ PORT: '0', CODE_TTL_MS: '5' });
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/CODE_TTL_MS must be .*10000.*600000/);
  });
});
