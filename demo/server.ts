// `npm run demo`: the demo on http://127.0.0.1:3000 (PORT to change it). No account needed: a fake
// Smstools server runs in this process. Set SMSTOOLS_CLIENT_ID, SMSTOOLS_CLIENT_SECRET,
// SMSTOOLS_SENDER and DEMO_PHONE (your own number) to send real messages instead.
import { createDemo, type RealSmstools } from './app.js';

function realFromEnv(env: NodeJS.ProcessEnv): RealSmstools | undefined {
  const { SMSTOOLS_CLIENT_ID, SMSTOOLS_CLIENT_SECRET, SMSTOOLS_SENDER, DEMO_PHONE } = env;
  if (!SMSTOOLS_CLIENT_ID || !SMSTOOLS_CLIENT_SECRET || !SMSTOOLS_SENDER) return undefined;
  if (!DEMO_PHONE) {
    // The demo users' numbers are made up: never text them for real.
    console.error(
      'Real mode needs DEMO_PHONE: your own number in international format, e.g. DEMO_PHONE=+32470000000',
    );
    process.exit(1);
  }
  return {
    clientId: SMSTOOLS_CLIENT_ID,
    clientSecret: SMSTOOLS_CLIENT_SECRET,
    sender: SMSTOOLS_SENDER,
    phone: DEMO_PHONE,
    ...(env.SMSTOOLS_WEBHOOK_SECRET ? { webhookSecret: env.SMSTOOLS_WEBHOOK_SECRET } : {}),
  };
}

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number, not ${JSON.stringify(process.env.PORT)}`);
  process.exit(1);
}

const demo = await createDemo({ port, real: realFromEnv(process.env) });
const lines = [
  '',
  `  express-sms-2fa demo: ${demo.url}`,
  '',
  demo.mode === 'fake'
    ? `  Fake Smstools server at ${demo.fake?.url}: no message leaves this machine.`
    : '  Real mode: codes are sent through the Smstools API.',
  demo.mode === 'fake' ? `  Read the codes on the phone: ${demo.url}/phone` : '',
  `  The SMS funnel, live: ${demo.url}/stats`,
  '',
  '  Demo users:',
  ...demo.users.map(
    (u) => `    ${u.username.padEnd(6)} password ${u.password}   ${u.phone.padEnd(13)}  ${u.story}`,
  ),
  '',
  '  Ctrl+C to stop.',
  '',
];
console.log(lines.filter((line, i) => line !== '' || lines[i - 1] !== '').join('\n'));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    demo.close().finally(() => process.exit(0));
  });
}
