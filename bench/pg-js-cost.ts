// The JS cost of one postgresStore right-code verify, without I/O: `npx tsx bench/pg-js-cost.ts
// [rounds] [perRound]`. pg.Pool (10 clients) over in-process fake connections (pg-fake-stream.ts)
// that answer the verify statement with a canned right-code row; 10 verifies in flight. Prints the
// CPU µs per op of each variant (median of rounds): the store as the route calls it, and pg alone.
import pg from 'pg';
import { guardStore } from '../src/stores/guarded-store.js';
import { statements } from '../src/stores/postgres/sql.js';
import { textArray } from '../src/stores/postgres/verify-attempt.js';
import { postgresStore } from '../src/stores/postgres-store.js';
import { type CannedResult, FakePgStream, TYPES } from './pg-fake-stream.js';
import { challengeRecord, verifyInput } from './pg-verify-fixture.js';

const rounds = Number(process.argv[2] ?? 7);
const perRound = Number(process.argv[3] ?? 20_000);
const table = 'tfa_store';

const CHALLENGE = challengeRecord(
  'u1',
  'sealed-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567',
);
const STATE = JSON.stringify([1, Date.now(), Date.now(), 0, 'sms', 'sent', ['id-0123456789']]);

/** What the verify statement answers: the function's row for a right code. */
const VERIFY_ROW: CannedResult = {
  columns: [
    ['outcome', TYPES.TEXT],
    ['clock_ms', TYPES.INT8],
    ['attempts', TYPES.INT8],
    ['failures', TYPES.INT8],
    ['failed_at', TYPES.INT8],
    ['challenge', TYPES.TEXT],
    ['state', TYPES.TEXT],
  ],
  row: () => ['right', String(Date.now()), null, null, null, CHALLENGE, STATE],
};
const ONE_COLUMN: CannedResult = {
  columns: [['r', TYPES.TEXT]],
  row: () => [JSON.stringify(['right', Date.now(), null, null, null, CHALLENGE, STATE])],
};
export function verifyAnswer(text: string): CannedResult | undefined {
  if (text.includes('/*1col*/')) return ONE_COLUMN;
  return text.includes('_verify') ? VERIFY_ROW : undefined;
}

const KEYS = {
  lock: '2fa:{u:abcdefghijkl}:vlock',
  challenge: '2fa:{u:abcdefghijkl}:c:0123456789abcdef0123',
  state: '2fa:{u:abcdefghijkl}:s:0123456789abcdef0123',
  attempts: '2fa:{u:abcdefghijkl}:a:0123456789abcdef0123',
  failures: '2fa:{u:abcdefghijkl}:f',
  failedAt: '2fa:{u:abcdefghijkl}:fa',
};
const input = () => verifyInput(KEYS, 'u1');

function fakePool(answer: (text: string) => CannedResult | undefined) {
  return new pg.Pool({ stream: () => new FakePgStream(answer) } as unknown as pg.PoolConfig);
}

/** The statement's parameters with the arrays written as literals, as the store sends them. */
const literalParams = () => [
  textArray(['l', 'c', 's', 'a', 'f', 'fa']),
  'u1',
  'sess',
  'phone',
  textArray(['hash']),
  Date.now(),
  5,
  '{5,1000,3600000,10}',
  3_600_000,
  '{10,1,2,3,5,10}',
  Date.now() + 60_000,
];

type Op = () => Promise<unknown>;

function variants(): Record<string, Op> {
  const pool = fakePool(verifyAnswer);
  const store = postgresStore({
    query: (text, params, name) => pool.query({ name, text, values: params }),
    table,
  });
  const guarded = guardStore(store, 5000);
  const text = statements(table).verify;
  const params = [
    ['l', 'c', 's', 'a', 'f', 'fa'],
    'u1',
    'sess',
    'phone',
    ['hash'],
    Date.now(),
    5,
    [5, 1000, 3_600_000, 10],
    3_600_000,
    [10, 1, 2, 3, 5, 10],
    Date.now() + 60_000,
  ];
  return {
    'guarded store': async () => {
      const result = await guarded.verifyAttempt?.(input());
      if (result?.outcome !== 'right') throw new Error(String(result?.outcome));
    },
    store: async () => {
      const result = await store.verifyAttempt(input());
      if (result?.outcome !== 'right') throw new Error(String(result?.outcome));
    },
    'pool.query': () => pool.query({ name: 'v', text, values: params }),
    'q 1 column': () =>
      pool
        .query({ name: 'v1', text: `/*1col*/${text}`, values: params })
        .then((r) => JSON.parse(r.rows[0].r)),
    'q 1 json param': () =>
      pool.query({ name: 'vj', text: `/*json*/${text}`, values: [JSON.stringify(params)] }),
    'q literal arrays': () => {
      const p = literalParams();
      return pool.query({ name: 'v', text, values: p });
    },
    'q 1col+literal': () => {
      const p = literalParams();
      return pool
        .query({ name: 'v1', text: `/*1col*/${text}`, values: p })
        .then((r) => JSON.parse(r.rows[0].r));
    },
    'q no params': () => pool.query({ name: 'vn', text: `/*none*/${text}`, values: [] }),
  };
}

async function runOps(op: Op, n: number) {
  let next = 0;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next++ < n) await op();
    }),
  );
  const { user, system } = process.cpuUsage(cpu);
  return (user + system) / n;
}

async function main() {
  const all = Object.entries(variants()).filter(
    ([name]) => !process.env.ONLY || process.env.ONLY.split(',').includes(name),
  );
  for (const [, op] of all) await runOps(op, 2000);
  const results = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const [name, op] of r % 2 ? [...all].reverse() : all) {
      results.set(name, [...(results.get(name) ?? []), await runOps(op, perRound)]);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const [name, rs] of results) {
    console.log(
      `${name.padEnd(14)} ${median(rs).toFixed(1)} µs/op  [${rs.map((x) => x.toFixed(1)).join(' ')}]`,
    );
  }
  process.exit(0);
}

if (!process.env.NO_MAIN)
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
