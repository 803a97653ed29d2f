// The parent's handle on a benchmark server process (bench/server.ts), and its IPC requests.
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PackageKind } from './pkg.js';
import { formatTop, type SelfTime, selfTimes } from './profile.js';
import type { Counters, ServerConfig } from './server.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PROFILE_DIR = join(ROOT, 'bench', 'profiles');

export interface Heap {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
  storeSize?: number | null;
}

export interface Server {
  readonly label: string;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Where this server's CPU profiles go, one per measured run (when profiling). */
  readonly profileDir: string | undefined;
  /** Next unused user number on this server (users are never shared between flows). */
  nextUser(): number;
  request<T>(type: string, extra?: Record<string, unknown>): Promise<T>;
  /** Collects before a run: a scavenge, or a full GC when `full` (see collectBeforeRun in bench/server.ts). */
  gc(full?: boolean): Promise<Heap>;
  heap(): Promise<Heap>;
  counters(reset?: boolean): Promise<Counters>;
  /** The server process's CPU time so far (user + system), in µs. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Profile this server's measured runs (bench/profiles/<label>-<time>/run-N.cpuprofile). */
  profile?: boolean;
  /** The script to run instead of bench/server.ts (bench/cluster.ts: a cluster primary). */
  entry?: string;
  /** Run the package's sources (tsx) or its build (bench/dist/) in this server; default: BENCH_SRC. */
  pkg?: PackageKind;
}

/** What the servers run unless told otherwise: `src` with BENCH_SRC=1, else `dist`. */
export const packageKind = (): PackageKind => (process.env.BENCH_SRC === '1' ? 'src' : 'dist');

/** Builds the package into bench/dist/ (bench/build.ts), in a child process; about 2 s. */
export function buildPackage(): void {
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'build.ts')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}

/** Top self-time functions of every profiled server, by label (for bench/results.json). */
export const profiles: Record<string, { dir: string; busyMs: number; top: SelfTime[] }> = {};

/** Moves every thread of process `pid` onto `cpus` (e.g. '1'); false when `taskset` is missing. */
export function pinTo(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts `bench/server.ts` in its own Node process (tsx loader, --expose-gc) and waits for it to
 * listen. The server loads the package from bench/dist/ (or src with BENCH_SRC=1, bench/pkg.ts).
 */
export async function startServer(
  label: string,
  config: ServerConfig,
  options: StartOptions = {},
): Promise<Server & { ready: Record<string, unknown> }> {
  // BENCH_NODE_FLAGS: extra Node/V8 flags for every server, e.g. "--trace-opt --trace-deopt".
  const execArgv = [
    '--import',
    'tsx',
    '--expose-gc',
    ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
  ];
  const profileDir = join(PROFILE_DIR, `${label.replace(/[^a-z0-9-]+/gi, '_')}-${Date.now()}`);
  const child = fork(join(ROOT, 'bench', options.entry ?? 'server.ts'), [JSON.stringify(config)], {
    cwd: ROOT,
    execArgv,
    env: { ...process.env, BENCH_SRC: (options.pkg ?? packageKind()) === 'src' ? '1' : '0' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  const pending = new Map<number, (data: unknown) => void>();
  let sequence = 0;
  let exited = false;
  child.on('exit', (code, signal) => {
    live.delete(child);
    exited = true;
    for (const resolve of pending.values()) resolve(undefined);
    pending.clear();
    if (code !== 0 && signal !== 'SIGKILL') {
      console.error(`bench server ${label} exited with ${code ?? signal}`);
    }
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bench server ${label} did not start`)), 120_000);
    child.once('exit', () => reject(new Error(`bench server ${label} exited before it was ready`)));
    child.on('message', (msg: { type?: string; id?: number; data?: unknown }) => {
      if (msg.type === 'ready') {
        clearTimeout(timer);
        resolve(msg as Record<string, unknown>);
      } else if (typeof msg.id === 'number') {
        pending.get(msg.id)?.(msg.data);
        pending.delete(msg.id);
      }
    });
  });
  if (process.env.BENCH_PIN) pinTo(child.pid ?? 0, process.env.BENCH_PIN);
  const port = Number(ready.port ?? 0);
  let users = 0;

  function request<T>(type: string, extra: Record<string, unknown> = {}): Promise<T> {
    if (exited) return Promise.reject(new Error(`bench server ${label} has exited`));
    const id = ++sequence;
    return new Promise<T>((resolve) => {
      pending.set(id, resolve as (data: unknown) => void);
      child.send({ id, type, ...extra });
    });
  }

  return {
    label,
    ready,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid ?? 0,
    profileDir: options.profile ? profileDir : undefined,
    nextUser: () => users++,
    request,
    gc: (full = false) => request<Heap>('gc', { full }),
    heap: () => request<Heap>('heap'),
    counters: (reset = false) => request<Counters>('counters', { reset }),
    cpu: () => request<number>('cpu'),
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await Promise.race([request('exit'), gone]);
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (!exited) child.kill('SIGKILL');
      // One directory per variant, one profile per measured run in it.
      if (options.profile && existsSync(profileDir)) {
        for (const variant of readdirSync(profileDir)) {
          const dir = join(profileDir, variant);
          const { busyMs, top } = selfTimes(dir);
          profiles[`${label}/${variant}`] = { dir: relative(ROOT, dir), busyMs, top: top.slice(0, 25) };
          console.log(formatTop(relative(ROOT, dir), 15).replace(/^/gm, '    '));
        }
      }
    },
  };
}
