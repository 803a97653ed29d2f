import { fileURLToPath } from 'node:url';
import { buildPageScript } from './build-script.js';

/**
 * The enhancement script, minified: what the page inlines under its CSP nonce. Its source is
 * client/index.ts. The package build (tsup.config.ts) puts the built text in place of this module,
 * so the package never loads esbuild; run from source (tests, the demo), it is built on load.
 */
export const PAGE_SCRIPT: string = buildPageScript(
  fileURLToPath(new URL('./client/index.ts', import.meta.url)),
);
