// The demo's recovery codes and remembered devices: where the app keeps the code hashes (a Map
// standing in for its database), the account page's section, and its revoke buttons.
import express, { type Express, type Request } from 'express';
import type { RecoveryOptions, RememberedDevice, TwoFactor } from '../src/index.js';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const e = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/** The app's side of recovery codes: it keeps the hashes `save` hands it (a real app: a database column). */
export function demoRecovery(): RecoveryOptions {
  const hashes = new Map<string, string[]>();
  return {
    load: (userId) => hashes.get(userId) ?? [],
    save: (userId, list) => {
      hashes.set(userId, [...list]);
    },
  };
}

/** How this session got past the second factor, in words. */
export function howVerified(method: string): string {
  switch (method) {
    case 'voice':
      return 'the code sent by voice call';
    case 'recovery':
      return 'one of your recovery codes';
    case 'device':
      return 'this remembered device (no code this time)';
    default:
      return 'the code sent by SMS';
  }
}

/** A browser's name from its User-Agent, short enough for a list. */
function browserName(userAgent: string): string {
  const found = userAgent.match(/(Firefox|Edg|Chrome|Chromium|HeadlessChrome|Safari)\/[\d.]+/)?.[0];
  return found ?? (userAgent.slice(0, 40) || 'Unknown browser');
}

const time = (ms: number) => new Date(ms).toLocaleString('en-GB');

function deviceItem(device: RememberedDevice): string {
  return `<li class="device" data-id="${e(device.id)}"><strong>${e(browserName(device.userAgent))}</strong> · ${e(device.ipPrefix || 'unknown network')}<br><span class="muted">remembered ${e(time(device.createdAt))}, last used ${e(time(device.lastUsedAt))}</span>
<form method="post" action="/account/devices/revoke"><input type="hidden" name="id" value="${e(device.id)}"><button class="secondary revoke" type="submit">Revoke</button></form></li>`;
}

/** The account page's section: recovery codes left and a button for a new set; the remembered devices, each with Revoke. */
export async function lifecycleSection(tfa: TwoFactor, userId: string): Promise<string> {
  const [left, devices] = await Promise.all([tfa.recovery.count(userId), tfa.devices.list(userId)]);
  return `<h2>Recovery codes</h2>
<p id="codes-left">${left === 0 ? 'You have no recovery codes yet.' : `${left} unused recovery code${left === 1 ? '' : 's'} left.`}</p>
<form method="post" action="/2fa/recovery/generate"><input type="hidden" name="returnTo" value="/account"><button class="secondary" id="generate-codes" type="submit">${left === 0 ? 'Generate recovery codes' : 'Generate new recovery codes'}</button></form>
<p class="muted">They sign you in once each when your phone is lost ("Use a recovery code" on the challenge page). A new set needs a code from the last 5 minutes and ends the old one.</p>
<h2>Remembered devices</h2>
${
  devices.length === 0
    ? '<p id="no-devices" class="muted">None. Tick "Don\'t ask again on this device" on the challenge page to add this one.</p>'
    : `<ul class="users" id="devices">${devices.map(deviceItem).join('')}</ul>
<form method="post" action="/account/devices/revoke-all"><button class="secondary" id="revoke-all" type="submit">Revoke all</button></form>`
}`;
}

/** POST /account/devices/revoke and /revoke-all: the app's own routes, calling tfa.devices. */
export function mountDeviceRoutes(
  app: Express,
  tfa: TwoFactor,
  userIdOf: (req: Request) => string | undefined,
  sameSite: (req: Request) => boolean,
): void {
  const form = express.urlencoded({ extended: false, limit: '1kb' });
  app.post('/account/devices/revoke', tfa.requireSecondFactor, form, async (req, res, next) => {
    const userId = userIdOf(req);
    if (!sameSite(req) || !userId) return void res.status(403).send('Refused.');
    const id = (req.body as Record<string, unknown>).id;
    try {
      if (typeof id === 'string') await tfa.devices.revoke(userId, id);
      res.redirect(303, '/account');
    } catch (error) {
      next(error);
    }
  });
  app.post('/account/devices/revoke-all', tfa.requireSecondFactor, async (req, res, next) => {
    const userId = userIdOf(req);
    if (!sameSite(req) || !userId) return void res.status(403).send('Refused.');
    try {
      await tfa.devices.revokeAll(userId);
      res.redirect(303, '/account');
    } catch (error) {
      next(error);
    }
  });
}
