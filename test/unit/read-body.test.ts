import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../src/constants.js';
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

/** A request as Node's parser leaves it once the whole body arrived with its headers: pushed, ended, `complete`. */
function arrived(body: string | Buffer, type = 'application/json', complete = true): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers['content-type'] = type;
  req.push(Buffer.isBuffer(body) ? body : Buffer.from(body));
  req.push(null);
  req.complete = complete;
  return req;
}

describe('a body that already arrived whole (read at once, not from events)', () => {
  const bodies: [string, string][] = [
    ['{"code":"123456","returnTo":"/x"}', 'application/json'],
    ['code=123456&returnTo=%2Fx', 'application/x-www-form-urlencoded'],
    ['{"code":"12 34 56","é":"ü"}', 'application/json; charset=utf-8'],
    ['', 'application/json'],
  ];
  it.each(bodies)('answers exactly what reading it from events answers: %s', async (body, type) => {
    const atOnce = await readBody(arrived(body, type) as unknown as Request);
    const fromEvents = await readBody(arrived(body, type, false) as unknown as Request);
    expect(atOnce).toEqual(fromEvents);
    expect(atOnce.raw.equals(Buffer.from(body))).toBe(true);
  });

  it('leaves the request ended, as the events did', async () => {
    const req = arrived('{"code":"123456"}');
    await readBody(req as unknown as Request);
    await new Promise((resolve) => setImmediate(resolve));
    expect(req.readableEnded).toBe(true);
  });

  it('refuses a body over the limit with 413, with or without a Content-Length', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    for (const complete of [true, false]) {
      await expect(
        readRawBody(arrived(big, 'application/json', complete) as unknown as Request),
      ).rejects.toMatchObject({
        status: 413,
      });
    }
  });

  it('reads from events when the stream already flows to another reader', async () => {
    const req = arrived('{"code":"123456"}');
    const seen: Buffer[] = [];
    req.on('data', (chunk: Buffer) => seen.push(chunk));
    expect((await readBody(req as unknown as Request)).fields).toEqual({ code: '123456' });
    expect(Buffer.concat(seen).toString()).toBe('{"code":"123456"}');
  });

  it('reads from events when the app set an encoding on the stream (the answer as before)', async () => {
    const answers = [];
    for (const complete of [true, false]) {
      const req = arrived('{"code":"123456"}', 'application/json', complete);
      req.setEncoding('utf8');
      answers.push((await readBody(req as unknown as Request)).fields);
    }
    expect(answers).toEqual([{ code: '123456' }, { code: '123456' }]);
  });
});

describe('the media type, read before the first `;`, trimmed, in any case', () => {
  const types: [string, string][] = [
    [' Application/JSON ; charset=utf-8', 'json'],
    ['APPLICATION/X-WWW-FORM-URLENCODED;charset=UTF-8', 'form'],
    ['application/json;', 'json'],
    ['application/jsonx', 'empty'],
    [';application/json', 'empty'],
    ['', 'empty'],
  ];
  it.each(types)('%j reads as %s', async (type, kind) => {
    const body = kind === 'form' ? 'code=123456' : kind === 'json' ? '{"code":"123456"}' : '';
    expect((await readBody(arrived(body, type) as unknown as Request)).kind).toBe(kind);
  });
});
