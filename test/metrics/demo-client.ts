// Uses the demo over plain HTTP, the way its pages do, without depending on how they look.
import type { Demo } from '../../demo/app.js';

/** One browser: a cookie jar over fetch. */
export class DemoClient {
  readonly #cookies = new Map<string, string>();
  constructor(readonly demo: Demo) {}

  async call(method: string, path: string, body?: object, form = false): Promise<Response> {
    const headers: Record<string, string> = {
      cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; '),
    };
    let payload: string | undefined;
    if (body) {
      headers['content-type'] = form ? 'application/x-www-form-urlencoded' : 'application/json';
      payload = form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body);
    }
    const res = await fetch(this.demo.url + path, { method, headers, body: payload, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';', 1);
      const eq = pair.indexOf('=');
      this.#cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }

  /** Signs in with the demo's password login (the first factor). */
  async signIn(username: string): Promise<this> {
    const user = this.demo.users.find((u) => u.username === username);
    const res = await this.call('POST', '/login', { username, password: user?.password ?? '' }, true);
    if (res.status !== 303) throw new Error(`login answered ${res.status}`);
    return this;
  }

  async expect(method: string, path: string, status: number, body?: object): Promise<Response> {
    const res = await this.call(method, path, body);
    if (res.status !== status)
      throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
    return res;
  }
}

/** The newest code the fake Smstools server carried to `username`, by SMS or call. */
export function lastCode(demo: Demo, username: string): string {
  const phone = demo.users.find((u) => u.username === username)?.phone ?? '';
  const code = demo.fake?.lastCode(phone);
  if (!code) throw new Error(`no code for ${username} yet`);
  return code;
}
