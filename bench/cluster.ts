// A cluster primary: forks `workers` bench servers (bench/server.ts) under node:cluster, all on one
// port, and stands in for them towards bench/run.ts over IPC. Run by bench/child.ts like bench/server.ts.
import cluster, { type Worker } from 'node:cluster';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerConfig } from './server.js';

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig & { workers?: number };
const count = config.workers ?? 2;
const { workers: _, ...workerConfig } = config;

type Message = { id: number; type: string } & Record<string, unknown>;

cluster.setupPrimary({
  exec: join(dirname(fileURLToPath(import.meta.url)), 'server.ts'),
  args: [JSON.stringify(workerConfig)],
  execArgv: ['--import', 'tsx', '--expose-gc'],
});
// Connections handed to the workers in turn (the default everywhere but Windows).
cluster.schedulingPolicy = cluster.SCHED_RR;

const workers: Worker[] = [];
const pending = new Map<string, (data: unknown) => void>();
let sequence = 0;

function ask(worker: Worker, type: string, extra: Record<string, unknown> = {}): Promise<unknown> {
  const id = ++sequence;
  return new Promise((resolve) => {
    pending.set(`${worker.id}:${id}`, resolve);
    worker.send({ ...extra, id, type });
  });
}

const sum = (values: unknown[]) => values.reduce((a: number, b) => a + Number(b ?? 0), 0);

/** Adds up numeric fields (CPU, heap, counters) over the workers. */
function total(values: unknown[]): unknown {
  if (values.every((v) => typeof v === 'number')) return sum(values);
  const out: Record<string, unknown> = {};
  for (const v of values as Record<string, unknown>[]) {
    for (const [k, x] of Object.entries(v ?? {})) {
      if (typeof x === 'number') out[k] = Number(out[k] ?? 0) + x;
      else if (Array.isArray(x)) out[k] = [...((out[k] as unknown[]) ?? []), ...x];
      else if (x && typeof x === 'object') out[k] = total([out[k] ?? {}, x]);
      else out[k] ??= x;
    }
  }
  return out;
}

let port = 0;
let ready = 0;
for (let i = 0; i < count; i++) {
  const worker = cluster.fork();
  workers.push(worker);
  worker.on('message', (msg: { id?: number; type?: string; data?: unknown; port?: number }) => {
    if (msg.type === 'ready') {
      port = msg.port ?? port;
      if (++ready === count) process.send?.({ type: 'ready', port, workers: count });
    } else if (typeof msg.id === 'number') {
      pending.get(`${worker.id}:${msg.id}`)?.(msg.data);
      pending.delete(`${worker.id}:${msg.id}`);
    }
  });
}

process.on('message', async (msg: Message) => {
  const { id, type, ...extra } = msg;
  const reply = (data: unknown) => process.send?.({ id, data });
  if (type === 'cpu') {
    const own = process.cpuUsage();
    const theirs = await Promise.all(workers.map((w) => ask(w, 'cpu')));
    reply(own.user + own.system + sum(theirs));
  } else if (type === 'code') {
    // Whichever worker took the send has the code.
    const answers = await Promise.all(workers.map((w) => ask(w, 'code', extra)));
    reply(answers.find((a) => typeof a === 'string') ?? null);
  } else if (type === 'cleanup') {
    reply(await ask(workers[0] as Worker, 'cleanup'));
  } else if (type === 'exit') {
    await Promise.all(workers.map((w) => ask(w, 'exit')));
    reply(null);
    process.exit(0);
  } else {
    reply(total(await Promise.all(workers.map((w) => ask(w, type, extra)))));
  }
});
