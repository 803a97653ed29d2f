// The guard's own cost per call on real requests: Express requests kept from live traffic.
import { Agent, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * `count` real requests to `path` of `server`, with `cookie`, over 8 keep-alive sockets, kept once
 * answered: each went through the app's own middleware (express-session's `req.session`,
 * Express's prototype, a real socket, Node's headers), as a route in front of the guard hands it
 * over. A fake request (a plain object with `secure` as a data property) costs a fraction of that.
 */
export async function keepRequests(server: Server, path: string, cookie: string, count: number) {
  const kept: Request[] = [];
  const keep = (req: IncomingMessage) => kept.push(req as Request);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const { port } = server.address() as AddressInfo;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, agent, headers: { cookie } }, (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`${path}: ${res.statusCode}`)),
        );
      });
      req.on('error', reject);
      req.end();
    });
  server.on('request', keep);
  try {
    let sent = 0;
    const lane = async () => {
      while (sent < count) {
        sent++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: 8 }, lane));
  } finally {
    server.off('request', keep);
    agent.destroy();
  }
  return kept;
}

/** A response the guard must never answer on: a refusal or a redirect throws (the bench's check). */
export const refusingResponse = {
  setHeader: () => refusingResponse,
  status: () => refusingResponse,
  json: () => {
    throw new Error('the guard refused the verified request');
  },
  redirect: () => {
    throw new Error('the guard redirected the verified request');
  },
} as unknown as Response;

/**
 * µs per call of `handler` over `requests`, each called once (as in live traffic, where every
 * request is a new object); `handler` must pass each synchronously (getUser is synchronous here).
 */
export function timeOnce(handler: RequestHandler, requests: Request[]): number {
  let passed = 0;
  const next: NextFunction = (error?: unknown) => {
    if (error) throw error;
    passed++;
  };
  const t0 = performance.now();
  for (const req of requests) handler(req, refusingResponse, next);
  const us = ((performance.now() - t0) * 1000) / requests.length;
  if (passed !== requests.length) throw new Error(`${passed} of ${requests.length} requests passed`);
  return us;
}

/**
 * The guard's own cost per call on real requests, minus the same loop around the hand-rolled flag
 * check. For each, `rounds` × `perRound` requests kept from live traffic (to `/bare`, which runs
 * neither), each called once, timed in chunks of `chunk`: short windows, so that on a shared
 * machine most of them run undisturbed. The figure is each one's fastest chunk (noise only adds
 * time); the median chunk is returned beside it.
 */
export async function guardCost(
  server: Server,
  guard: RequestHandler,
  flag: RequestHandler,
  cookie: string,
  { rounds = 4, perRound = 2_000, chunk = 100 } = {},
) {
  const chunks = async (handler: RequestHandler) => {
    const requests = await keepRequests(server, '/bare', cookie, perRound);
    const times: number[] = [];
    for (let at = 0; at + chunk <= requests.length; at += chunk) {
      times.push(timeOnce(handler, requests.slice(at, at + chunk)));
    }
    return times;
  };
  // Warm both on real requests first: the server's own requests may not have reached them yet.
  await chunks(guard);
  await chunks(flag);
  const guardTimes: number[] = [];
  const flagTimes: number[] = [];
  for (let n = 0; n < rounds; n++) {
    guardTimes.push(...(await chunks(guard)));
    flagTimes.push(...(await chunks(flag)));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
  const guardUs = Math.min(...guardTimes);
  const harnessUs = Math.min(...flagTimes);
  return {
    guardUs,
    harnessUs,
    ownUs: guardUs - harnessUs,
    guardMedianUs: median(guardTimes),
    flagMedianUs: median(flagTimes),
    perRound: chunk,
    chunks: guardTimes.length,
  };
}
