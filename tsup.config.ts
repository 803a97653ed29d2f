import { defineConfig } from 'tsup';
import { buildPageScript } from './src/page/build-script.js';

/** Puts the challenge page's script, built and minified, in place of src/page/script.ts. */
const inlinePageScript = {
  name: 'inline-page-script',
  setup(build: {
    onLoad: (options: { filter: RegExp }, load: () => { contents: string; loader: 'ts' }) => void;
  }) {
    build.onLoad({ filter: /[\\/]src[\\/]page[\\/]script\.ts$/ }, () => ({
      contents: `export const PAGE_SCRIPT = ${JSON.stringify(buildPageScript('src/page/client/index.ts'))};`,
      loader: 'ts',
    }));
    // The enrollment page's script (number formatting), likewise: the package never loads esbuild.
    build.onLoad({ filter: /[\\/]src[\\/]lifecycle[\\/]enroll[\\/]script\.ts$/ }, () => ({
      contents: `const SCRIPT = ${JSON.stringify(buildPageScript('src/lifecycle/enroll/client.ts'))};\nexport function enrollScript() { return SCRIPT; }`,
      loader: 'ts',
    }));
  },
};

export default defineConfig({
  entry: { index: 'src/index.ts', testing: 'src/testing/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  sourcemap: true,
  esbuildPlugins: [inlinePageScript],
});
