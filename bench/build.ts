// Builds the package for the benchmarks: tsup with the project's own config (tsup.config.ts), ESM
// only, without declarations, into bench/dist/ (dist/ is left alone). Run by bench/run.ts before
// any case, so the servers never run a stale build; `node --import tsx bench/build.ts` by hand.
import { build } from 'tsup';

await build({ format: ['esm'], dts: false, outDir: 'bench/dist', silent: true });
