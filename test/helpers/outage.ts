/**
 * What every store outage test checks, whatever the engine (Redis killed or hung, PostgreSQL cut
 * off or hung): every 2FA route fails closed with 503 within the store timeout, nobody becomes
 * verified, and the guard keeps working from its signed cookie alone.
 */
import { expect } from 'vitest';
import type { Agent } from './create-app.js';
import { json } from './create-app.js';

/** A generous bound for "answers within the timeout": no request may hang. */
export const ANSWER_BOUND_MS = 5_000;

/** Every route of the package, as a browser in the middle of a flow calls them. */
export const ROUTES: { name: string; call: (agent: Agent, code: string) => ReturnType<Agent['get']> }[] = [
  { name: 'GET /2fa', call: (agent) => agent.get('/2fa') },
  { name: 'GET /2fa/status', call: (agent) => agent.get('/2fa/status') },
  { name: 'POST /2fa/send', call: (agent) => json(agent, '/2fa/send') },
  { name: 'POST /2fa/resend', call: (agent) => json(agent, '/2fa/resend') },
  { name: 'POST /2fa/voice', call: (agent) => json(agent, '/2fa/voice') },
  { name: 'POST /2fa/verify', call: (agent, code) => json(agent, '/2fa/verify', { code }) },
];

/** True when the answer sets the signed verified cookie `2fa=…`. */
export const verifiedCookie = (res: { headers: Record<string, unknown> }) =>
  ([] as unknown[])
    .concat(res.headers['set-cookie'] ?? [])
    .map(String)
    .some((c) => /^2fa=[^;]+/.test(c));

/** Every route answers 503 ERR_2FA_STORE_UNAVAILABLE, each within the bound, none verifies. */
export async function expectEveryRouteUnavailable(agent: Agent, code: string): Promise<void> {
  const answers = await Promise.all(
    ROUTES.map(async (route) => {
      const started = performance.now();
      const res = await route.call(agent, code);
      return { route: route.name, res, ms: performance.now() - started };
    }),
  );
  for (const { route, res, ms } of answers) {
    expect(res.status, `${route}: ${res.text}`).toBe(503);
    expect(res.body.error.code, route).toBe('ERR_2FA_STORE_UNAVAILABLE');
    expect(res.headers['cache-control'], route).toBe('no-store');
    expect(Number(res.headers['retry-after']), route).toBeGreaterThan(0);
    expect(verifiedCookie(res), route).toBe(false);
    expect(ms, `${route} answered after ${Math.round(ms)} ms`).toBeLessThan(ANSWER_BOUND_MS);
  }
}

/** The guard reads no store: the `verified` browser passes, the `unverified` one is refused. */
export async function expectGuardUnchanged(verified: Agent, unverified: Agent): Promise<void> {
  const passed = await verified.get('/api/data').expect(200);
  expect(passed.body.ok).toBe(true);
  const refused = await unverified.get('/api/data').expect(401);
  expect(refused.body.error.code).toBe('ERR_2FA_REQUIRED');
  const redirected = await unverified.get('/account').set('Accept', 'text/html').expect(303);
  expect(redirected.headers.location).toBe('/2fa?returnTo=%2Faccount');
}

/** Once the store answers again: the app is ready when status answers 200 (polled, no fixed wait). */
export async function expectStatusAnswersAgain(agent: Agent): Promise<void> {
  await expect
    .poll(async () => (await agent.get('/2fa/status')).status, { timeout: 15_000, interval: 100 })
    .toBe(200);
}
