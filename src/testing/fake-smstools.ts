// A faithful fake of the Smstools HTTP API on 127.0.0.1, for this package's tests, the demo and apps' own tests.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { extractCode } from '../transports/memory.js';
import {
  type Answer,
  apiError,
  deliveryReportBody,
  digitsOf,
  type FakeApiError,
  fakeMessageId,
  forcedAnswer,
  gsmLength,
  historyAnswer,
  NOT_JSON,
  parseJson,
  readBody,
  send,
  signWebhook,
  smsParts,
  type ValidSend,
  validateSend,
} from './fake-smstools-rules.js';
import type {
  FakeDeliveryStatus,
  FakeSmstools,
  FakeSmstoolsFailure,
  FakeSmstoolsMessage,
  FakeSmstoolsOptions,
  FakeSmstoolsRequest,
  FakeSmstoolsWebhook,
  FakeSmstoolsWebhookAttempt,
} from './fake-smstools-types.js';

export type {
  FakeDeliveryStatus,
  FakeSmstools,
  FakeSmstoolsFailure,
  FakeSmstoolsMessage,
  FakeSmstoolsOptions,
  FakeSmstoolsRequest,
  FakeSmstoolsWebhook,
  FakeSmstoolsWebhookAttempt,
} from './fake-smstools-types.js';

class FakeSmstoolsServer extends EventEmitter implements FakeSmstools {
  readonly messages: FakeSmstoolsMessage[] = [];
  readonly requests: FakeSmstoolsRequest[] = [];
  readonly webhooks: FakeSmstoolsWebhookAttempt[] = [];
  readonly optOuts: Set<string>;
  readonly failSmsTo: Set<string>;
  readonly undeliverableTo: Set<string>;
  failMode: FakeSmstoolsFailure | undefined;
  webhook: FakeSmstoolsWebhook | undefined;
  connections = 0;
  clientId: string;
  clientSecret: string;
  #balance: number;
  readonly #options: FakeSmstoolsOptions;
  readonly #now: () => number;
  readonly #server = createServer();
  readonly #sockets = new Set<Socket>();
  readonly #queue: { failure: FakeSmstoolsFailure; left: number }[] = [];
  readonly #pending = new Set<Promise<unknown>>();
  /** Reports of the request being answered that must be posted before its answer (`beforeAnswer`). */
  readonly #beforeAnswer: Promise<unknown>[] = [];
  readonly #closing = new AbortController();
  readonly #webhookId = String(1000 + Math.floor(Math.random() * 9000));
  #port: number | undefined;

  constructor(options: FakeSmstoolsOptions) {
    super();
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.clientId = options.clientId ?? 'fake-client-id';
    this.clientSecret = options.clientSecret ?? 'fake-client-secret';
    this.#balance = options.balance ?? 100;
    this.optOuts = new Set(options.optOuts);
    this.failSmsTo = new Set(options.failSmsTo);
    this.undeliverableTo = new Set(options.undeliverableTo);
    this.webhook = options.webhook;
    this.#server.on('connection', (socket) => {
      this.connections++;
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('request', (req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent) send(res, { status: 500, body: { error: 'fake server error' } });
        else res.destroy();
      });
    });
  }

  get url(): string {
    if (this.#port === undefined) throw new Error('fakeSmstools: call `await fake.start()` first');
    return `http://127.0.0.1:${this.#port}/v1`;
  }
  get balance(): number {
    return this.#balance;
  }
  set balance(value: number) {
    this.#balance = value;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.#closing.abort();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    this.#server.closeAllConnections();
    await closed;
    await Promise.allSettled([...this.#pending]);
  }

  failNext(failure: FakeSmstoolsFailure, times = 1): void {
    this.#queue.push({ failure, left: times });
  }

  setCredentials(clientId: string, clientSecret: string): void {
    this.clientId = clientId;
    this.clientSecret = clientSecret;
  }

  transportOptions() {
    const options = { baseUrl: this.url, clientId: this.clientId, clientSecret: this.clientSecret };
    return this.webhook ? { ...options, webhookSecret: this.webhook.secret } : options;
  }

  lastMessage(to?: string): FakeSmstoolsMessage | undefined {
    return to === undefined ? this.messages.at(-1) : this.messages.findLast((m) => m.to === digitsOf(to));
  }

  lastCode(to?: string): string | undefined {
    const message = this.lastMessage(to);
    return message ? extractCode(message.message) : undefined;
  }

  reset(): void {
    this.messages.length = 0;
    this.requests.length = 0;
    this.webhooks.length = 0;
    this.#queue.length = 0;
    this.failMode = undefined;
  }

  async flushWebhooks(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async deliver(
    messageId: string,
    status: FakeDeliveryStatus = 'delivered',
    options: { duplicate?: boolean; timestamp?: number; secret?: string; detail?: string } = {},
  ): Promise<FakeSmstoolsWebhookAttempt[]> {
    const webhook = this.webhook;
    if (!webhook) throw new Error('fakeSmstools: set the `webhook` option to deliver reports');
    const message = this.messages.find((m) => m.id === messageId);
    if (message) message.status = status;
    const at = options.timestamp ?? this.#now();
    const body = deliveryReportBody({
      webhookId: this.#webhookId,
      username: this.#options.username ?? 'fake-user',
      messageId,
      receiver: message?.to ?? '',
      status,
      ...(options.detail === undefined ? {} : { detail: options.detail }),
      at,
    });
    const headers = signWebhook(options.secret ?? webhook.secret, body, Math.floor(at / 1000));
    const attempts = [await this.#post(webhook.url, messageId, status, body, headers)];
    if (options.duplicate) attempts.push(await this.#post(webhook.url, messageId, status, body, headers));
    return attempts;
  }

  async #post(
    url: string,
    messageId: string,
    status: FakeDeliveryStatus,
    body: string,
    headers: Record<string, string>,
  ): Promise<FakeSmstoolsWebhookAttempt> {
    const attempt: FakeSmstoolsWebhookAttempt = { messageId, status, body };
    try {
      const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(5_000)]);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        signal,
      });
      await response.arrayBuffer();
      attempt.responseStatus = response.status;
    } catch (error) {
      attempt.error = error instanceof Error ? error.message : String(error);
    }
    this.webhooks.push(attempt);
    this.emit('webhook', attempt);
    return attempt;
  }

  /** Automatic reports after a real send: optionally `submitted`, then the final state. */
  #scheduleReports(message: FakeSmstoolsMessage): void {
    const webhook = this.webhook;
    if (!webhook || message.date !== undefined) return;
    const listed = this.undeliverableTo.has(message.to) || this.undeliverableTo.has(`+${message.to}`);
    const undeliverable = message.channel === 'sms' && listed;
    const final: FakeDeliveryStatus = undeliverable ? 'not delivered' : 'delivered';
    const run = async () => {
      const delay = { signal: this.#closing.signal };
      await sleep(webhook.delayMs ?? 0, undefined, delay);
      if (webhook.submittedFirst) await this.deliver(message.id, 'submitted');
      await this.deliver(message.id, final);
    };
    const task = run().catch(() => undefined); // closing cancels the wait; failures are recorded
    this.#pending.add(task);
    void task.finally(() => this.#pending.delete(task));
    if (webhook.beforeAnswer) this.#beforeAnswer.push(task);
  }

  #takeFailure(): FakeSmstoolsFailure | undefined {
    const next = this.#queue[0];
    if (!next) return this.failMode;
    if (--next.left <= 0) this.#queue.shift();
    return next.failure;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    if (raw === undefined) return send(res, { status: 413, body: { error: 'request too large' } });
    const body = parseJson(raw);
    const parsed = body !== NOT_JSON;
    if (url.pathname.startsWith('/__fake/'))
      return send(res, await this.#control(req.method, url.pathname, body));
    const request: FakeSmstoolsRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      headers: req.headers,
      body: parsed ? body : raw,
      at: this.#now(),
    };
    this.requests.push(request);
    this.emit('request', request);

    let failure = this.#takeFailure();
    while (typeof failure === 'object' && 'mode' in failure && failure.mode === 'slow') {
      const stalled = await sleep(failure.delayMs, true, { signal: this.#closing.signal }).catch(() => false);
      if (!stalled) return void res.destroy();
      failure = failure.then;
    }
    if (failure === 'slow') {
      const stalled = await sleep(30_000, true, { signal: this.#closing.signal }).catch(() => false);
      if (!stalled) return void res.destroy();
      failure = undefined;
    }
    if (failure === 'reset') return void req.socket.destroy();
    if (failure !== undefined)
      return send(
        res,
        forcedAnswer(failure, body, (error) => this.#refusal(error)),
      );

    const authorised =
      (req.headers['x-client-id'] === this.clientId &&
        req.headers['x-client-secret'] === this.clientSecret) ||
      (query.client_id === this.clientId && query.client_secret === this.clientSecret);
    if (!authorised) return send(res, this.#refusal(apiError('104')));
    if (!parsed) return send(res, this.#refusal({ error: 'error parsing json' }));
    const answer = this.#route(req.method ?? 'GET', url.pathname, body, query);
    // #route runs without a pause, so every report queued meanwhile belongs to this request.
    const early = this.#beforeAnswer.splice(0);
    await Promise.all(early);
    send(res, answer);
  }

  #route(method: string, path: string, body: unknown, query: Record<string, string>): Answer {
    const route = `${method} ${path.replace(/\/+$/, '')}`;
    if (route === 'POST /v1/message/send') return this.#send('sms', body, query);
    if (route === 'POST /v1/voice/send') return this.#send('voice', body, query);
    if (route === 'GET /v1/auth')
      return { status: 200, body: { username: this.#options.username ?? 'fake-user' } };
    // Provisional shape: the real balance answer is undocumented.
    if (route === 'GET /v1/balance' || route === 'GET /v1/account/balance') {
      return { status: 200, body: { balance: this.#balance.toFixed(2), currency: 'EUR' } };
    }
    if (route === 'GET /v1/message/history')
      return historyAnswer(this.messages, query, (error) => this.#refusal(error));
    return { status: 404, body: { error: 'not found' } };
  }

  #send(channel: 'sms' | 'voice', body: unknown, query: Record<string, string>): Answer {
    const items = Array.isArray(body) ? body : [body];
    if (typeof body !== 'object' || body === null || items.length === 0)
      return this.#refusal(apiError('114'));
    const valid: ValidSend[] = [];
    let cost = 0;
    for (const item of items) {
      if (typeof item !== 'object' || item === null || Array.isArray(item))
        return this.#refusal(apiError('114'));
      const result = validateSend(item as Record<string, unknown>, {
        channel,
        // Both follow the official error page (459, and 110 for a number without +); the 612 of
        // a community list and a lenient sender stay available behind the options.
        maxLength: this.#options.maxLength ?? 459,
        requirePlusOnNumericSender: this.#options.requirePlusOnNumericSender ?? true,
        acceptDoubleZero: this.#options.acceptDoubleZero ?? false,
        optOuts: this.optOuts,
        failSmsTo: this.failSmsTo,
        now: this.#now(),
      });
      if ('error' in result) return this.#refusal(result);
      const test = result.test || query.test === 'true';
      valid.push({ ...result, test });
      const price =
        channel === 'sms'
          ? (this.#options.prices?.sms ?? 0.07) * smsParts(gsmLength(result.message))
          : (this.#options.prices?.voice ?? 0.15);
      if (!test) cost += price * result.to.length;
    }
    if (cost > this.#balance + 1e-9) return this.#refusal(apiError('108'));
    const maxReference = this.#options.maxReferenceLength ?? false;
    if (maxReference !== false && valid.some((v) => (v.reference?.length ?? 0) > maxReference)) {
      return this.#refusal({ error: 'reference too long' }); // guess: the real code is undocumented
    }
    this.#balance = Math.round((this.#balance - cost) * 10_000) / 10_000;
    const ids = valid.flatMap((v) => v.to.map((to) => this.#record(channel, v, to)));
    const single = !Array.isArray(body) && valid.length === 1 && !valid[0]?.toWasArray;
    return { status: 200, body: single ? { messageid: ids[0] } : { messageids: ids } };
  }

  #record(channel: 'sms' | 'voice', send: ValidSend, to: string): string {
    const id = fakeMessageId();
    // test: validated, not sent, not charged, no report. Whether the real API answers a messageid
    // in test mode is undocumented; the fake does, so an app cannot tell the modes apart by it.
    if (send.test) return id;
    const message: FakeSmstoolsMessage = {
      id,
      channel,
      to,
      message: send.message,
      sender: send.sender,
      status: 'accepted',
      at: this.#now(),
    };
    if (send.language !== undefined) message.language = send.language;
    if (send.gender !== undefined) message.gender = send.gender;
    if (send.reference !== undefined) message.reference = send.reference;
    if (send.date !== undefined) message.date = send.date;
    this.messages.push(message);
    this.#options.onMessage?.(message);
    this.emit('message', message);
    this.#scheduleReports(message);
    return id;
  }

  #refusal(error: FakeApiError): Answer {
    const configured = this.#options.errorStatus ?? 400;
    const status = typeof configured === 'number' ? configured : (configured[String(error.error)] ?? 400);
    return { status, body: error };
  }

  async #control(method: string | undefined, path: string, body: unknown): Promise<Answer> {
    const input = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const route = `${method} ${path}`;
    if (route === 'GET /__fake/messages') return { status: 200, body: { messages: this.messages } };
    if (route === 'POST /__fake/balance' && typeof input.balance === 'number') {
      this.balance = input.balance;
      return { status: 200, body: { balance: this.balance } };
    }
    if (
      route === 'POST /__fake/credentials' &&
      typeof input.clientId === 'string' &&
      typeof input.clientSecret === 'string'
    ) {
      this.setCredentials(input.clientId, input.clientSecret);
      return { status: 204, body: undefined };
    }
    if (route === 'POST /__fake/fail') {
      if (input.persistent === true)
        this.failMode = (input.failure ?? undefined) as FakeSmstoolsFailure | undefined;
      else if (input.failure) this.failNext(input.failure as FakeSmstoolsFailure, Number(input.times ?? 1));
      return { status: 204, body: undefined };
    }
    if (route === 'POST /__fake/deliver' && typeof input.messageId === 'string') {
      const options =
        typeof input.timestamp === 'number'
          ? { timestamp: input.timestamp, duplicate: input.duplicate === true }
          : { duplicate: input.duplicate === true };
      const attempts = await this.deliver(
        input.messageId,
        (input.status ?? 'delivered') as FakeDeliveryStatus,
        options,
      );
      return { status: 200, body: { attempts } };
    }
    if (route === 'POST /__fake/reset') {
      this.reset();
      return { status: 204, body: undefined };
    }
    return { status: 404, body: { error: 'unknown fake control route' } };
  }
}

/** A fake Smstools server; `await fake.start()` before use and `await fake.close()` after. */
export function fakeSmstools(options: FakeSmstoolsOptions = {}): FakeSmstools {
  return new FakeSmstoolsServer(options);
}

/** `fakeSmstools(options)`, already listening on 127.0.0.1 (a random port). */
export function startFakeSmstools(options: FakeSmstoolsOptions = {}): Promise<FakeSmstools> {
  return fakeSmstools(options).start();
}
