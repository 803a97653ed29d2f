import type { Request } from 'express';
import type { SecondFactorInfo } from './guard.js';

/**
 * `req.secondFactor` without adding a property to the request.
 *
 * Express sets each request's prototype (`Object.setPrototypeOf(req, app.request)`), which leaves
 * V8 a hidden class of that request's own, with no transitions: every property added afterwards
 * builds a new one (a map and a copy of some 40 descriptors, in old space) on every request. That
 * was the guard's largest cost in live traffic (1.5–2 µs of its ~4, and major GCs later), and a
 * loop over kept requests does not show it. So the guard keeps what it found in a WeakMap, keyed
 * by the request, read through an accessor on the app's request object (`app.request`, Express's
 * own place to extend requests), defined once per app. An app's own `req.secondFactor = …` goes
 * through the same accessor and reads back as before (only `Object.defineProperty` on a request
 * could shadow it; `delete req.secondFactor` no longer clears it). A request outside an Express
 * app gets a plain property, as before.
 */
const infos = new WeakMap<object, SecondFactorInfo | undefined>();

/** What `accessor` answers for a prototype: whether its chain now reads `secondFactor` from `infos`. */
const ready = new WeakMap<object, boolean>();

const ACCESSOR: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: object) {
    return infos.get(this);
  },
  set(this: object, value: SecondFactorInfo | undefined) {
    infos.set(this, value);
  },
};

/**
 * Whether requests with prototype `proto` read `secondFactor` through `ACCESSOR`: defined on every
 * app's request object in the chain (a mounted app's and its parents', so that a parent reads what
 * a guard in a mounted app found), if no object in the chain has a `secondFactor` of its own.
 */
function accessor(proto: object | null): boolean {
  if (proto === null) return false;
  let known = ready.get(proto);
  if (known !== undefined) return known;
  const apps: object[] = [];
  known = true;
  for (let at: object | null = proto; at !== null; at = Object.getPrototypeOf(at) as object | null) {
    const own = Object.getOwnPropertyDescriptor(at, 'secondFactor');
    if (own !== undefined && own.get !== ACCESSOR.get) {
      known = false;
      break;
    }
    if (Object.hasOwn(at, 'app') && typeof (at as { app?: unknown }).app === 'function') apps.push(at);
  }
  known &&= apps.length > 0 && apps.every((at) => Object.isExtensible(at));
  if (known) {
    for (const at of apps) {
      if (!Object.hasOwn(at, 'secondFactor')) Object.defineProperty(at, 'secondFactor', ACCESSOR);
    }
  }
  ready.set(proto, known);
  return known;
}

/** The last prototype seen ready: most apps have one, and this skips the WeakMap lookup. */
let lastReady: object | null = null;

/** Sets `req.secondFactor` for this request, without a new hidden class where Express made one. */
export function setSecondFactor(req: Request, info: SecondFactorInfo): void {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto !== lastReady || proto === null) {
    if (!accessor(proto) || Object.hasOwn(req, 'secondFactor')) {
      req.secondFactor = info;
      return;
    }
    lastReady = proto;
  }
  infos.set(req, info);
}
