import type { Express } from 'express';

export interface CapturedResponse {
  method: string;
  url: string;
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/**
 * Records every response the app writes (status, headers, body) by wrapping `res.write`/`res.end`.
 * Install it before any other middleware.
 */
export function captureResponses(app: Express): CapturedResponse[] {
  const captured: CapturedResponse[] = [];
  app.use((req, res, next) => {
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
    const keep = (chunk: unknown) => {
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    };
    (res as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
      keep(args[0]);
      return write(...args);
    };
    (res as unknown as { end: (...args: unknown[]) => typeof res }).end = (...args: unknown[]) => {
      if (typeof args[0] !== 'function') keep(args[0]);
      captured.push({
        method: req.method,
        url: req.originalUrl,
        status: res.statusCode,
        headers: res.getHeaders(),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      return end(...args);
    };
    next();
  });
  return captured;
}
