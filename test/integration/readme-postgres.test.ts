/**
 * The README's PostgreSQL section, as printed: its schema is what `postgresStore.schema()` returns,
 * and its pg and postgres.js examples run against a real database (with a table of this test's own
 * and the quick start's options filled in where the README says so).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { postgresStore } from '../../src/stores/postgres-store.js';
import type { Store } from '../../src/stores/store.js';
import { checkStore } from '../../src/testing/check-store.js';
import {
  dropTable,
  POSTGRES_CLIENTS,
  postgresUrl,
  requirePostgres,
  uniqueTable,
} from '../helpers/postgres.js';

const postgresUp = await requirePostgres();
const root = fileURLToPath(new URL('../../', import.meta.url));

/** The README's "### PostgreSQL" section, up to the next heading. */
function section(): string {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const start = readme.indexOf('### PostgreSQL\n');
  if (start < 0) throw new Error('no "### PostgreSQL" section in README.md');
  const end = readme.indexOf('\n#', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

function blocks(language: string): string[] {
  return [...section().matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map(
    (m) => m[1] ?? '',
  );
}

describe('the README PostgreSQL section', () => {
  it('prints the schema that postgresStore.schema() returns', () => {
    expect(blocks('sql')).toEqual([postgresStore.schema()]);
  });

  it('shows the adapters the tests use, for pg and for postgres.js', () => {
    const code = blocks('js').join('\n');
    expect(code).toContain('query: (text, params, name) => pool.query({ name, text, values: params })');
    expect(code).toContain(
      'query: async (text, params) => ({ rows: await sql.unsafe(text, params, { prepare: true }) })',
    );
  });
});

describe.skipIf(!postgresUp)('the README PostgreSQL examples, run as printed', () => {
  const generated: string[] = [];
  const tables: string[] = [];

  beforeAll(() => {
    vi.stubEnv('DATABASE_URL', postgresUrl());
  });

  afterEach(() => {
    for (const file of generated.splice(0)) rmSync(file, { force: true });
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    const { query, close } = await (POSTGRES_CLIENTS[0] as (typeof POSTGRES_CLIENTS)[number]).connect();
    try {
      for (const table of tables) await dropTable(query, table);
    } finally {
      await close();
    }
  });

  /** Writes the example as a module next to this test (so its imports resolve) and imports it. */
  async function run(index: number, exported: string) {
    const table = uniqueTable(`readme_${index}`);
    tables.push(table);
    const code = (blocks('js')[index] ?? '')
      .replaceAll("from 'express-sms-2fa'", `from '${root}src/index.ts'`)
      .replace('postgresStore({', `postgresStore({ table: '${table}',`)
      .replace(
        '// ...the options of the quick start',
        "secret: 'x'.repeat(32), getUser: () => null, transport: memoryTransport(), allowedCountries: ['BE'],",
      )
      .replace('import { postgresStore, twoFactor }', 'import { memoryTransport, postgresStore, twoFactor }');
    expect(code).toContain(`table: '${table}'`);
    const file = fileURLToPath(new URL(`./.readme-postgres-${index}.generated.mjs`, import.meta.url));
    generated.push(file);
    writeFileSync(file, `${code}\nexport { ${exported} };\n`);
    return { table, module: (await import(file)) as Record<string, unknown> };
  }

  it('pg: migrates its table and the store keeps the contract; twoFactor() takes it', async () => {
    const { table, module } = await run(0, 'store, tfa, pool');
    const store = module.store as Store & { table: string };
    expect(store.table).toBe(table);
    expect(typeof module.tfa).toBe('function');
    try {
      await checkStore(() => store);
    } finally {
      await (module.pool as { end: () => Promise<void> }).end();
    }
  });

  it('postgres.js: migrates its table and the store keeps the contract', async () => {
    const { table, module } = await run(1, 'store, sql');
    const store = module.store as Store & { table: string };
    expect(store.table).toBe(table);
    try {
      await checkStore(() => store);
    } finally {
      await (module.sql as { end: (o: object) => Promise<void> }).end({ timeout: 1 });
    }
  });
});
