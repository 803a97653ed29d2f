import type { Request } from 'express';
import express from 'express';
import { describe, expect, it } from 'vitest';
import type { SecondFactorInfo } from '../../src/guard.js';
import { setSecondFactor } from '../../src/second-factor-slot.js';

const info: SecondFactorInfo = { verifiedAt: 1, method: 'sms' };

/** A request as Express hands it over: its prototype is the app's request object. */
const expressRequest = (app: express.Express) => Object.create(app.request) as Request;

describe('setSecondFactor', () => {
  it('gives a request outside Express a plain property, as before', () => {
    const req = {} as Request;
    setSecondFactor(req, info);
    expect(Object.hasOwn(req, 'secondFactor')).toBe(true);
    expect(req.secondFactor).toBe(info);
  });

  it("reads back through the app's request object, per request, without an own property", () => {
    const app = express();
    const [a, b] = [expressRequest(app), expressRequest(app)];
    setSecondFactor(a, info);
    expect(a.secondFactor).toBe(info);
    expect(Object.hasOwn(a, 'secondFactor')).toBe(false);
    expect(b.secondFactor).toBeUndefined();
    expect((app.request as Request).secondFactor).toBeUndefined();
    // The app's own assignment reads back on that request only.
    const own: SecondFactorInfo = { verifiedAt: 2, method: 'voice' };
    b.secondFactor = own;
    expect(b.secondFactor).toBe(own);
    expect(a.secondFactor).toBe(info);
  });

  it("leaves an app's own secondFactor on its request object alone (a plain property instead)", () => {
    const app = express();
    Object.defineProperty(app.request, 'secondFactor', {
      value: undefined,
      writable: true,
      configurable: true,
    });
    const req = expressRequest(app);
    setSecondFactor(req, info);
    expect(Object.hasOwn(req, 'secondFactor')).toBe(true);
    expect(req.secondFactor).toBe(info);
    expect(Object.getOwnPropertyDescriptor(app.request, 'secondFactor')?.get).toBeUndefined();
  });

  it('writes over an own property a request already has', () => {
    const app = express();
    const first = expressRequest(app);
    setSecondFactor(first, info); // the accessor is in place
    const req = expressRequest(app);
    Object.defineProperty(req, 'secondFactor', { value: undefined, writable: true, enumerable: true });
    const other = express();
    setSecondFactor(expressRequest(other), info); // another app's prototype becomes the last seen
    setSecondFactor(req, info);
    expect(req.secondFactor).toBe(info);
  });
});
