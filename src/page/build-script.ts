import { buildSync } from 'esbuild';

/**
 * Builds the page's script: client/index.ts and what it imports (the screen logic it shares with
 * the server), bundled and minified for browsers from 2022 on. Both the package build
 * (tsup.config.ts) and a run from source (script.ts) use this, so they ship the same text.
 */
export function buildPageScript(entry: string): string {
  const result = buildSync({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome100', 'firefox100', 'safari15.4'],
    legalComments: 'none',
    write: false,
  });
  return (result.outputFiles[0]?.text ?? '').trim();
}
