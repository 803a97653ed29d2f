// Recovery codes and remembered devices in tests: the app's own code storage, verified browsers.
import type { RecoveryOptions } from '../../src/lifecycle/options.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import {
  type Agent,
  type CreateAppOptions,
  createApp,
  json,
  sendCode,
  signIn,
  type TestApp,
  type Username,
} from './create-app.js';

/** Where the app keeps recovery-code hashes (its database), with every `save` recorded. */
export interface Vault {
  saved: Map<string, string[]>;
  saves: { userId: string; hashes: string[] }[];
  options: RecoveryOptions;
}

/** A vault whose `load` and `save` are as non-atomic as a real database: each awaits a turn of the loop. */
export function createVault(count?: number): Vault {
  const saved = new Map<string, string[]>();
  const saves: Vault['saves'] = [];
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  return {
    saved,
    saves,
    options: {
      load: async (userId) => {
        await tick();
        return [...(saved.get(userId) ?? [])];
      },
      save: async (userId, hashes) => {
        await tick();
        saves.push({ userId, hashes: [...hashes] });
        saved.set(userId, [...hashes]);
      },
      ...(count === undefined ? {} : { count }),
    },
  };
}

/** An app with recovery codes (and, unless told otherwise, remembered devices). */
export function createLifecycleApp(
  opts: CreateAppOptions & { vault?: Vault; remember?: boolean } = {},
): TestApp & { vault: Vault } {
  const vault = opts.vault ?? createVault();
  const t = createApp({
    ...opts,
    options: {
      recovery: vault.options,
      ...(opts.remember === false ? {} : { rememberDevice: {} }),
      ...opts.options,
    },
  });
  return { ...t, vault };
}

/** A browser signed in as `username` that verified a code by SMS just now. */
export async function verifiedAgent(
  t: TestApp,
  username: Username = 'alice',
  extra: Record<string, unknown> = {},
): Promise<Agent> {
  const agent = await signIn(t, username);
  const code = await sendCode(t, agent, username);
  const res = await json(agent, '/2fa/verify', { code, ...extra });
  if (res.status !== 200) throw new Error(`verify answered ${res.status} ${JSON.stringify(res.body)}`);
  return agent;
}

/** New recovery codes through the route, for a browser that verified just now. */
export async function generateCodes(agent: Agent): Promise<string[]> {
  const res = await json(agent, '/2fa/recovery/generate');
  if (res.status !== 200) throw new Error(`generate answered ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.codes as string[];
}

/** The package's form token, read from a page the way a browser form carries it. */
export function formTokenOf(html: string): string {
  const token = html.match(/name="tfa_csrf" value="([^"]+)"/)?.[1];
  if (!token) throw new Error('no tfa_csrf field on the page');
  return token;
}

/** A fresh first-factor session (a new sign-in) in the same browser: same cookie jar, new session id. */
export async function signInAgain(agent: Agent, username: Username = 'alice'): Promise<void> {
  await agent.post('/logout').expect(200);
  const password = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw', dave: 'dave-pw' }[username];
  await agent.post('/login').type('form').send({ username, password }).expect(200);
}

/** A memory store that records the name of every call made to it. */
export function countingStore(now: () => number): Store & { calls: string[] } {
  const inner = memoryStore({ now }) as unknown as Record<string, (...args: unknown[]) => unknown>;
  const calls: string[] = [];
  const counted =
    (name: string) =>
    (...args: unknown[]) => {
      calls.push(name);
      return inner[name]?.(...args);
    };
  const names = ['get', 'set', 'delete', 'consume', 'increment', 'compareAndSet', 'getMany'];
  return Object.assign(Object.fromEntries(names.map((n) => [n, counted(n)])), {
    calls,
  }) as unknown as Store & {
    calls: string[];
  };
}
