// What the cookie jar (src/cookie.ts) writes, read off a bare response: plain HTTP, no other cookie.
import type { Response } from 'express';

/** The one Set-Cookie line `write` sets on a bare response. */
export function setCookieLine(write: (res: Response) => void): string {
  let line = '';
  const res = {
    req: { secure: false },
    getHeader: () => undefined,
    setHeader: (_name: string, value: string) => {
      line = value;
    },
  } as unknown as Response;
  write(res);
  return line;
}

/** The cookie's value in `line`, as the browser sends it back (percent-decoded). */
export const cookieValue = (line: string) =>
  decodeURIComponent(line.slice(line.indexOf('=') + 1, line.indexOf(';')));
