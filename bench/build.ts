// Builds the package for the benchmarks: tsup with the project's own config (tsup.config.ts), ESM
// only, without declarations, into bench/dist/ (dist/ is left alone). Run by bench/run.ts before
// any case, so the servers never run a stale build; `node --import tsx bench/build.ts` by hand.
import { build } from 'tsup';

await build({ format: ['esm'], dts: false, outDir: 'bench/dist', silent: true });
// One internal module the bench times on its own (bench/metrics-cost.ts), built the same way in a
// build of its own, so that index.js and testing.js stay as users get them (no chunk split off).
await build({
  entry: { 'internal-metrics': 'src/metrics/metrics.ts' },
  format: ['esm'],
  dts: false,
  outDir: 'bench/dist',
  clean: false,
  silent: true,
});
