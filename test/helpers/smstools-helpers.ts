// Helpers for the Smstools transport and fake-server suites: real HTTP on 127.0.0.1 only.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { expect, onTestFinished } from 'vitest';
import { TwoFactorError } from '../../src/errors.js';
import { type FakeSmstoolsOptions, startFakeSmstools } from '../../src/testing/fake-smstools.js';
import { SmstoolsError } from '../../src/transports/smstools.js';

/** Secrets a failure must never reveal. */
export const PHONE = '+32470123401';
export const CODE = '482913';
export const TEXT = `Your MyApp code is ${CODE}. It expires in 5 minutes.`;
export const CLIENT_SECRET = 'cs_live_9f8e7d6c5b4a';

/** A started fake with the suite's credentials, closed when the test ends. */
export async function useFakeSmstools(options: FakeSmstoolsOptions = {}) {
  const fake = await startFakeSmstools({ clientId: 'client-42', clientSecret: CLIENT_SECRET, ...options });
  onTestFinished(() => fake.close());
  return fake;
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The real global fetch, counting calls: a spy, not a mock. */
export function countingFetch() {
  const counter = {
    calls: 0,
    fetch: ((...args: Parameters<typeof fetch>) => {
      counter.calls++;
      return fetch(...args);
    }) as typeof fetch,
  };
  return counter;
}

/** Every string form of an error a logger or a JSON API could produce, causes included. */
export function renderings(error: unknown): string[] {
  const out = [String(error), inspect(error, { depth: Infinity, showHidden: true, getters: true })];
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    out.push(e.message, e.stack ?? '', JSON.stringify(e), JSON.stringify({ ...e }));
  }
  return out;
}

/** Fails when any rendering of `error` contains the code, the text, the number (with or without +) or the secret. */
export function expectNoLeak(error: unknown, extra: string[] = []): void {
  const needles = [CODE, TEXT, PHONE, PHONE.slice(1), PHONE.slice(4), CLIENT_SECRET, ...extra];
  for (const text of renderings(error)) {
    for (const needle of needles) expect(text, `leaks ${needle}`).not.toContain(needle);
  }
}

/** Awaits a rejected send and checks the contract: ERR_2FA_SEND_FAILED, a sanitized SmstoolsError cause, no leak. */
export async function expectSendFailure(
  promise: Promise<unknown>,
  expected: Partial<Pick<SmstoolsError, 'kind' | 'status' | 'providerCode' | 'retryable'>>,
): Promise<SmstoolsError> {
  const error = await promise.then(
    () => expect.unreachable('the send should have failed'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TwoFactorError);
  expect(error).toMatchObject({ code: 'ERR_2FA_SEND_FAILED', status: 503 });
  const cause = (error as TwoFactorError).cause;
  expect(cause).toBeInstanceOf(SmstoolsError);
  expect(cause).toMatchObject(expected);
  // Nothing of ofetch's FetchError survives: no request, options, response or nested cause.
  for (const key of ['request', 'options', 'response', 'data', 'cause']) {
    expect(cause as object, key).not.toHaveProperty(key);
  }
  expectNoLeak(error);
  return cause as SmstoolsError;
}

/** Signs a delivery-report body the way Smstools does, independently of the code under test. */
export function signedHeaders(secret: string, body: string, unixSeconds: number): Record<string, string> {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return { 'x-smstools-signature': `t=${unixSeconds},v1=${v1}`, 'x-smstools-timestamp': String(unixSeconds) };
}

export function deliveryReport(messageid: string, code: string | number, type = 'delivery_report'): string {
  return JSON.stringify({
    webhook_id: '7',
    webhook_type: type,
    username: 'acme',
    message: {
      messageid,
      receiver: '32470123401',
      delivery_code: code,
      delivery_status: 'delivered',
      delivery_code_detail: '',
      delivery_status_datetime: '2026-01-02 10:00:00',
    },
  });
}

export interface ReceivedWebhook {
  rawBody: Buffer;
  headers: IncomingHttpHeaders;
}

/** A tiny webhook receiver answering 204, closed when the test ends. */
export async function useWebhookReceiver(status = 204) {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ rawBody: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/2fa/webhooks/smstools`, received };
}

/** A bare local HTTP server with `handler`, closed when the test ends; returns its `/v1` base URL. */
export async function useRawServer(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onTestFinished(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
}
