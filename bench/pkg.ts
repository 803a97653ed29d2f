// The package as the benchmarks run it: by default the build users run (tsup's ESM output, built
// by bench/build.ts into bench/dist/ at the start of `npm run bench`); with BENCH_SRC=1
// (`npm run bench -- --src`) its TypeScript sources through tsx, for development. tsx compiles
// with esbuild's keepNames, which wraps every function and closure in `__name(fn, "name")` each
// time it is created; tsup's build has none (BENCHMARKS.md, "Seventh session's changes").
import { existsSync } from 'node:fs';
import type * as Index from '../src/index.js';
import type * as Testing from '../src/testing/index.js';

export type PackageKind = 'src' | 'dist';

/** What this process runs: `src` (BENCH_SRC=1) or `dist` (bench/dist/, the published build). */
export const PACKAGE: PackageKind = process.env.BENCH_SRC === '1' ? 'src' : 'dist';

const dist = new URL('./dist/', import.meta.url);
if (PACKAGE === 'dist' && !existsSync(new URL('index.js', dist))) {
  throw new Error(
    'bench/dist/ is missing: run the bench through `npm run bench` (it builds it) or set BENCH_SRC=1',
  );
}

// Specifiers in variables, so that TypeScript does not look for bench/dist/ (the types are src's).
const indexUrl = PACKAGE === 'src' ? '../src/index.js' : new URL('index.js', dist).href;
const testingUrl = PACKAGE === 'src' ? '../src/testing/index.js' : new URL('testing.js', dist).href;
const index = (await import(indexUrl)) as typeof Index;
const testing = (await import(testingUrl)) as typeof Testing;

export const { memoryStore, memoryTransport, postgresStore, redisStore, smstools, twoFactor } = index;
export const { extractCode, startFakeSmstools } = testing;
