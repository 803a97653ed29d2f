import { fileURLToPath } from 'node:url';
import { buildPageScript } from '../../page/build-script.js';

/**
 * The enrollment page's script, minified (source: client.ts). The package build (tsup.config.ts)
 * puts the built text in place of this module; run from source, it is built on first use.
 */
let built: string | undefined;
export function enrollScript(): string {
  built ??= buildPageScript(fileURLToPath(new URL('./client.ts', import.meta.url)));
  return built;
}
