// Browser code, bundled into the page (build-script.ts): type-checked with the DOM by
// tsconfig.client.json; the base tsconfig.json leaves it out, so server code has no DOM globals.
/** An answer of the package's JSON routes (`ok: false` and an empty body when none came). */
export interface Answer {
  ok: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: the routes' JSON, read field by field
  body: any;
  /** `Retry-After`, in seconds (0 without one). */
  retryAfter: number;
}

/**
 * Calls a route with JSON: `body` makes it a POST. `csrf` is the host app's CSRF token, sent under
 * both names its middleware may read. Never throws.
 */
export async function call(path: string, body?: object, csrf?: string): Promise<Answer> {
  const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': 'application/json' };
  if (csrf) headers['X-CSRF-Token'] = headers['CSRF-Token'] = csrf;
  try {
    const response = await fetch(path, {
      method: body ? 'POST' : 'GET',
      cache: 'no-store',
      headers,
      body: body && JSON.stringify(body),
    });
    return {
      ok: response.ok,
      body: (await response.json().catch(() => 0)) || {},
      retryAfter: Math.ceil(Number(response.headers.get('Retry-After')) || 0),
    };
  } catch {
    return { ok: false, body: {}, retryAfter: 0 };
  }
}

/** Only a same-origin path; the server already guarantees it, this is a second lock. */
export const safePath = (path: unknown) =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be refused
  typeof path === 'string' && /^\/(?![/\\])/.test(path) && !/[\u0000-\u001f\\]/.test(path) ? path : '/';
