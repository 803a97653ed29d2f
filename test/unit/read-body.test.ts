import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { readBody, readRawBody } from '../../src/http.js';

/** A request whose client went away before its body was read (say, while `getUser` ran). */
async function abortedRequest(): Promise<Request> {
  const req = new IncomingMessage(new Socket());
  req.headers['content-type'] = 'application/json';
  req.headers['content-length'] = '100';
  const closed = new Promise((resolve) => req.once('close', resolve));
  req.destroy();
  await closed;
  return req as unknown as Request;
}

describe('reading a body the app has not read', () => {
  it('fails at once instead of waiting for events that already fired', async () => {
    await expect(readBody(await abortedRequest())).rejects.toThrow();
    await expect(readRawBody(await abortedRequest())).rejects.toThrow();
  });

  it('reads a body whose request a middleware before it paused', async () => {
    const req = new IncomingMessage(new Socket());
    req.headers['content-type'] = 'application/json';
    req.pause();
    req.push(Buffer.from('{"code":"123456"}'));
    req.push(null);
    expect((await readBody(req as unknown as Request)).fields).toEqual({ code: '123456' });
  });
});
