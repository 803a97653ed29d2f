import { type BuildOptions, buildSync } from 'esbuild';

/**
 * How the page's script is built: client/index.ts and what it imports (the screen logic it shares
 * with the server), bundled, minified for browsers from 2022 on. tsup.config.ts builds it the same
 * way and puts the result in place of this module, so the package ships the minified text and
 * never loads esbuild; running from source (tests, the demo), this module builds it on load.
 */
export const PAGE_SCRIPT_BUILD: BuildOptions & { write: false } = {
  entryPoints: [new URL('./client/index.ts', import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome100', 'firefox100', 'safari15.4'],
  legalComments: 'none',
  write: false,
};

/** The enhancement script, minified: what the page inlines under its CSP nonce. */
export const PAGE_SCRIPT: string = (buildSync(PAGE_SCRIPT_BUILD).outputFiles[0]?.text ?? '').trim();
