// A CommonJS consumer of the packed package: a real Express app, the whole flow over HTTP.
const assert = require('node:assert/strict');
const express = require('express');
const session = require('express-session');
const request = require('supertest');
const { memoryTransport, twoFactor } = require('express-sms-2fa');

async function main() {
  const transport = memoryTransport();
  const app = express();
  app.use(
    session({ secret: 'a-session-secret-for-the-cjs-consumer', resave: false, saveUninitialized: false }),
  );
  app.post('/login', (req, res) => {
    req.session.user = { id: 7, phone: '+32470123401' };
    res.sendStatus(204);
  });
  const tfa = twoFactor({
    secret: 'a-two-factor-secret-for-the-cjs-consumer!',
    getUser: (req) => (req.session.user ? { ...req.session.user, sessionId: req.sessionID } : null),
    transport,
    allowedCountries: ['BE'],
  });
  app.use(tfa);
  app.get('/account', tfa.requireSecondFactor, (req, res) =>
    res.send(`verified by ${req.secondFactor.method}`),
  );

  const agent = request.agent(app);
  await agent.post('/login').expect(204);
  assert.equal(
    (await agent.get('/account').set('Accept', 'text/html').expect(303)).headers.location,
    '/2fa?returnTo=%2Faccount',
  );
  await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}').expect(200);
  const code = transport.lastCode('+32470123401');
  await agent.post('/2fa/verify').set('Content-Type', 'application/json').send({ code }).expect(200);
  assert.equal((await agent.get('/account').expect(200)).text, 'verified by sms');
  console.log('CommonJS consumer app OK');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
