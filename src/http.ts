import type { Request, Response } from 'express';
import { MAX_BODY_BYTES } from './constants.js';
import { localMessage } from './error-messages.js';
import { ERROR_CODES, TwoFactorError } from './errors.js';
import type { Locale } from './messages.js';

export type Body = Record<string, unknown>;

export interface ParsedBody {
  kind: 'json' | 'form' | 'empty';
  fields: Body;
  raw: Buffer;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be refused
const CONTROL_OR_BACKSLASH = /[\u0000-\u001f\u007f\\]/;

/** Browsers navigating (not fetch calls) get pages and redirects; everything else gets JSON. */
export function isHtmlClient(req: Request): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

/**
 * True for a request another site made the browser send. Fetch Metadata decides where the browser
 * sends it; Origin only for older browsers (a page with `Referrer-Policy: no-referrer` makes
 * Chromium send `Origin: null` on its own same-origin form posts).
 */
export function isCrossSite(req: Request): boolean {
  // `req.headers` read once: on a request after Express, each read costs ~0.8 µs (BENCHMARKS.md, s8-guard).
  const { headers } = req;
  const site = headers['sec-fetch-site'];
  // isCrossSiteByFetchMetadata's rule, inline (keep the two alike).
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== headers.host;
  } catch {
    return true; // includes the opaque origin "null"
  }
}

/**
 * True when the browser itself says the request comes from this origin: `Sec-Fetch-Site:
 * same-origin`, or (older browsers) an `Origin` equal to this scheme, host and port. A page cannot
 * forge either. The scheme counts: `http://` of an `https://` site is another origin, one a
 * network attacker can serve. (Behind a TLS proxy without `trust proxy`, `req.protocol` says
 * http and this answers false: the form token is then needed, as before.)
 */
export function isProvenSameOrigin(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site === 'same-origin';
  const origin = req.headers.origin;
  if (origin === undefined || req.headers.host === undefined) return false;
  try {
    return new URL(origin).origin === new URL(`${req.protocol}://${req.headers.host}`).origin;
  } catch {
    return false;
  }
}

/** What Fetch Metadata says: a request, or a navigation (a link, `window.open`, a redirect chain), started by another site. */
export function isCrossSiteByFetchMetadata(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  return site !== undefined && site !== 'same-origin' && site !== 'none';
}

/**
 * Only a same-origin path comes back out: `/x` passes; `//x`, `/\x`, schemes, control characters
 * and their percent-encoded forms all become `/`.
 */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return '/';
  let candidate = value;
  for (let round = 0; ; round++) {
    if (!candidate.startsWith('/') || candidate.startsWith('//') || CONTROL_OR_BACKSLASH.test(candidate))
      return '/';
    let decoded: string;
    try {
      decoded = decodeURIComponent(candidate);
    } catch {
      return '/';
    }
    if (decoded === candidate) break;
    if (round === 3) return '/'; // still encoded after four rounds: refuse rather than guess
    candidate = decoded;
  }
  const base = 'http://same-origin.invalid';
  try {
    return new URL(value, base).origin === base ? value : '/';
  } catch {
    return '/';
  }
}

function bad(message: string, status = 400): TwoFactorError {
  return new TwoFactorError('ERR_2FA_BAD_REQUEST', { message, status });
}

/**
 * Reads up to MAX_BODY_BYTES; a larger body is refused before it is buffered. Plain `data`/`end`
 * listeners: an async iterator over the request would cost a few per cent of a verify's CPU
 * (its stream bookkeeping, and destroying the request when it is done).
 */
function readRaw(req: Request, contentLength = req.headers['content-length']): Promise<Buffer> {
  const declared = Number(contentLength);
  if (declared > MAX_BODY_BYTES) return Promise.reject(bad('The request body is too large.', 413));
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // Gone before we got here (the client left while `getUser` ran): no event will ever come.
  if (req.destroyed) return Promise.reject(new Error('the request was closed before its body was read'));
  const whole = wholeBody(req);
  if (whole !== undefined) {
    return whole.length > MAX_BODY_BYTES
      ? Promise.reject(bad('The request body is too large.', 413))
      : Promise.resolve(whole);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: Error | null) => {
      req.off('data', onData).off('end', onEnd).off('error', done).off('close', onClose);
      if (error) reject(error);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) done(bad('The request body is too large.', 413));
      else chunks.push(chunk);
    };
    const onEnd = () => done(null);
    const onClose = () => done(new Error('the request was closed before its body was read'));
    req.on('data', onData).on('end', onEnd).on('error', done).on('close', onClose);
    // A `data` listener does not start a request that a middleware before us paused.
    req.resume();
  });
}

/**
 * The body at once, when all of it already arrived (Node's parser marks the request `complete`
 * once it pushed the last byte: a small body sent with its headers, by the time any `await` before
 * us returned) and nothing else reads the stream: one `read()` instead of four listeners, a
 * `resume()` and the `data`/`end` events, a few µs of a verify. `undefined`: read it from events.
 */
function wholeBody(req: Request): Buffer | undefined {
  if (req.complete !== true || req.readableFlowing === true) return undefined;
  const state = req as { readableObjectMode?: boolean; readableEncoding?: BufferEncoding | null };
  if (state.readableObjectMode || state.readableEncoding) return undefined;
  const chunk: unknown = req.read();
  if (chunk === null) return req.readableLength === 0 ? Buffer.alloc(0) : undefined;
  return Buffer.isBuffer(chunk) ? chunk : undefined;
}

function parseForm(text: string): Body {
  const fields: Body = {};
  for (const [key, value] of new URLSearchParams(text)) {
    // One documented source per parameter: a repeated field is refused, not guessed.
    if (Object.hasOwn(fields, key)) throw bad(`The field "${key.slice(0, 20)}" appears twice.`);
    fields[key] = value;
  }
  return fields;
}

/**
 * The exact bytes of a delivery report, which its signature covers: read from the stream, or the
 * app's `req.rawBody` (a Buffer or string) when a body parser read the stream first; `null` when
 * the parser left nothing to check against.
 */
export async function readRawBody(req: Request): Promise<Buffer | null> {
  const kept = (req as { rawBody?: unknown }).rawBody;
  if (Buffer.isBuffer(kept)) return kept;
  if (typeof kept === 'string') return Buffer.from(kept, 'utf8');
  if (req.readableEnded) return null;
  return readRaw(req);
}

/**
 * The body as JSON or a urlencoded form. Uses the app's parsed `req.body` when a body parser ran
 * first; reads the stream itself otherwise (it also needs the raw bytes for webhook signatures).
 */
export async function readBody(req: Request): Promise<ParsedBody> {
  // The media type: what comes before the first `;`, trimmed, lower case (no array of parts).
  const { headers } = req;
  const header = headers['content-type'];
  const full = typeof header === 'string' ? header : String(header ?? '');
  const semicolon = full.indexOf(';');
  const type = (semicolon < 0 ? full : full.slice(0, semicolon)).trim().toLowerCase();
  const kind =
    type === 'application/json' ? 'json' : type === 'application/x-www-form-urlencoded' ? 'form' : 'empty';
  // `body` only once the stream ended: a property the request lacks is looked up through its
  // whole prototype chain, on a request whose hidden class is its own (no inline cache helps).
  if (req.readableEnded) {
    const parsed = (req as { body?: unknown }).body;
    if (parsed !== undefined) {
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw bad('The body must be an object.');
      return { kind, fields: parsed as Body, raw: Buffer.alloc(0) };
    }
  }
  const raw = await readRaw(req, headers['content-length']);
  if (raw.length === 0) return { kind, fields: {}, raw };
  if (kind === 'form') return { kind, fields: parseForm(raw.toString('utf8')), raw };
  if (kind !== 'json')
    throw bad('Send JSON (application/json) or a form (application/x-www-form-urlencoded).', 415);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw bad('The body is not valid JSON.');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw bad('The body must be a JSON object.');
  return { kind, fields: json as Body, raw };
}

/**
 * Writes `body` as JSON with its status, type and length, and nothing more: Express's `res.json`
 * would also hash the body into an ETag, which an answer that must not be cached never uses.
 */
export function sendJson(res: Response, status: number, body: unknown): void {
  sendJsonText(res, status, JSON.stringify(body));
}

/** `sendJson` of a body already written as JSON text. */
export function sendJsonText(res: Response, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** The JSON text of an error without details, and its length, by code and message (a few dozen pairs). */
const errorBodies = new Map<string, { text: string; length: number }>();
const MAX_ERROR_BODIES = 200;

/**
 * `details.attemptsLeft` when it is all `details` holds (one own enumerable key) and a whole number
 * from 0 to 1,000: the body is then the same text for every error of that code, message and count.
 */
function attemptsLeftOnly(details: Record<string, unknown>): number | undefined {
  const left = details.attemptsLeft;
  if (typeof left !== 'number' || !Number.isInteger(left) || left < 0 || left > 1000) return undefined;
  let keys = 0;
  for (const key in details) if (!Object.hasOwn(details, key) || ++keys > 1) return undefined;
  return keys === 1 ? left : undefined; // a symbol key, not enumerated, is not in the JSON text either
}

/** Sends a TwoFactorError as the contract's JSON shape, in `locale`, with Retry-After on 429 and 503. */
export function sendError(res: Response, error: TwoFactorError, locale: Locale = 'en'): void {
  // Every 429 and 503 says when to come back; one without a wait of its own (a burnt challenge,
  // which a new POST /send replaces at once; a store that failed or timed out) says 1 s.
  const retryAfter = error.retryAfter ?? (error.status === 429 || error.status === 503 ? 1 : undefined);
  if (retryAfter !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
  const message = localMessage(error, locale);
  const { details } = error;
  // A wrong code's details are its `attemptsLeft` alone (0 to `maxAttempts`): kept like no details.
  const left = details === undefined ? undefined : attemptsLeftOnly(details);
  if (details !== undefined && left === undefined) {
    sendJson(res, error.status, { error: { code: error.code, message, ...details } });
    return;
  }
  // Most refusals carry no details and the code's own message: their text is made once per code
  // and locale. A message of its own may hold what the request sent (a field's name), so it is
  // serialized each time: a client cannot fill the cache.
  const own = error.message === ERROR_CODES[error.code].message;
  const key = left === undefined ? `${error.code}\n${message}` : `${error.code}\n${message}\n${left}`;
  let body = own ? errorBodies.get(key) : undefined;
  if (body === undefined) {
    const text = JSON.stringify(
      left === undefined
        ? { error: { code: error.code, message } }
        : { error: { code: error.code, message, attemptsLeft: left } },
    );
    body = { text, length: Buffer.byteLength(text) };
    if (own && errorBodies.size < MAX_ERROR_BODIES) errorBodies.set(key, body);
  }
  res.statusCode = error.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body.text);
}

export function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
}
