// send: POST /2fa/send through the Smstools transport to the fake Smstools server, with keep-alive.
import { type Server, startServer } from '../child.js';
import { call } from '../client.js';
import { measure, type Variant } from '../measure.js';
import { type CaseResult, type Context, type Row, throughputRows } from '../report.js';

const SEQUENTIAL = 100;

/**
 * Three processes: the fake Smstools API, the app (the user comes from an `x-user` header, so every
 * request is a fresh user's first send and no login is needed), and autocannon here. The bare
 * route sends the same kind of SMS through the same transport, so the ratio is the middleware's
 * own share of a send. Budgets are
 * raised to their maximum in bench/apps.ts: every send comes from 127.0.0.1.
 */
export async function sendCase(ctx: Context): Promise<CaseResult> {
  const fake = await startServer('fake-smstools', { kind: 'fake' });
  let server: Server | undefined;
  try {
    const smstools = fake.ready.transportOptions as {
      baseUrl: string;
      clientId: string;
      clientSecret: string;
    };
    server = await startServer(
      'send',
      { kind: 'app', auth: 'header', store: 'memory', transport: 'smstools', smstools },
      { profile: ctx.profile },
    );
    const app = server;

    // TCP connections the transport opens for 100 sequential sends, on a server that has sent nothing yet.
    const opened0 = await fake.request<number>('connections');
    for (let i = 0; i < SEQUENTIAL; i++) {
      const res = await call(app, null, 'POST', '/2fa/send', {}, { 'x-user': String(app.nextUser()) });
      if (res.status !== 200) throw new Error(`send ${i} answered ${res.status}: ${res.text.slice(0, 200)}`);
    }
    const opened = (await fake.request<number>('connections')) - opened0;
    ctx.log(`  ${SEQUENTIAL} sequential sends opened ${opened} TCP connection(s) to the fake Smstools`);

    const resetFake = async () => {
      await fake.request('reset');
    };
    const variant = (name: string, path: string): Variant => ({
      name,
      server: app,
      method: 'POST',
      path,
      perRequest: () => ({ 'x-user': String(app.nextUser()) }),
      expect: 200,
      beforeRun: resetFake,
    });
    const variants = [
      variant('bare route + one Smstools call', '/bare-send'),
      variant('POST /2fa/send', '/2fa/send'),
    ];
    const summaries = await measure(variants, ctx.settings, ctx.log);
    const rows: Row[] = throughputRows('send', summaries, 'bare route + one Smstools call', {});
    rows.push({
      case: 'send',
      variant: `TCP connections for ${SEQUENTIAL} sequential sends`,
      value: String(opened),
      target: '≤ 2',
      met: opened <= 2,
    });
    return {
      name: 'send',
      rows,
      details: {
        sequentialSends: SEQUENTIAL,
        connectionsOpened: opened,
        summaries: Object.fromEntries(summaries),
      },
    };
  } finally {
    await server?.stop();
    await fake.stop();
  }
}
