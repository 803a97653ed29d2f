// An ESM consumer of the packed package: a real Express app, the whole flow over HTTP.
import assert from 'node:assert/strict';
import express from 'express';
import session from 'express-session';
import { memoryTransport, twoFactor } from 'express-sms-2fa';
import { startFakeSmstools } from 'express-sms-2fa/testing';
import request from 'supertest';

const fake = await startFakeSmstools();
try {
  const transport = memoryTransport();
  const app = express();
  app.use(
    session({ secret: 'a-session-secret-for-the-esm-consumer', resave: false, saveUninitialized: false }),
  );
  app.post('/login', (req, res) => {
    req.session.user = { id: 'u-1', phone: '+32470123401' };
    res.sendStatus(204);
  });
  const tfa = twoFactor({
    secret: 'a-two-factor-secret-for-the-esm-consumer!',
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
  await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}').expect(200);
  await agent
    .post('/2fa/verify')
    .set('Content-Type', 'application/json')
    .send({ code: transport.lastCode('+32470123401') })
    .expect(200);
  assert.equal((await agent.get('/account').expect(200)).text, 'verified by sms');
  assert.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  console.log('ESM consumer app OK');
} finally {
  await fake.close();
}
