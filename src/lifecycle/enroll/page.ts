// GET /2fa/enroll: type a number, get a code, type the code. Plain forms; the script only formats.
import type { Request, Response } from 'express';
import type { CountryCode } from 'libphonenumber-js';
import type { Runtime } from '../../context.js';
import { formToken } from '../../crypto.js';
import { hostCsrfToken } from '../../host/csrf.js';
import { safeReturnTo } from '../../http.js';
import type { CheckedUser } from '../../options.js';
import { newNonce, sendDocument } from '../../page/document.js';
import { errorText, escapeHtml, fill, hiddenTokens, resolveTexts } from '../../page/render.js';
import { countText } from '../../page/screen.js';
import { phoneOnFile } from '../../routes/destination.js';
import { errorOf } from '../../routes/page.js';
import { needsReverify, reverifyUrl } from './fresh-change.js';
import { liveEnrollView, loadEnroll } from './load.js';
import { countriesOf, exampleOf, metadataFor } from './metadata.js';
import type { EnrollConfig } from './options.js';
import { enrollScript } from './script.js';

/** Escapes JSON for a `<script type="application/json">` block. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** Each country's name in the page's language, falling back to its code. */
function countryName(code: string, locale: string): string {
  try {
    return new Intl.DisplayNames([locale], { type: 'region' }).of(code) ?? code;
  } catch {
    return code;
  }
}

/** A phrase with `{phone}` in bold (escaped). */
const withPhone = (template: string, phone: string) =>
  template
    .split('{phone}')
    .map((part) => fill(part, {}))
    .join(`<strong>${escapeHtml(phone)}</strong>`);

export async function showEnrollPage(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  routes: string,
): Promise<void> {
  const { config } = rt;
  const enroll = config.enroll as EnrollConfig;
  const query = req.query as Record<string, unknown>;
  const texts = resolveTexts(config.page, config.locale);
  const onFile = phoneOnFile(rt, user);
  const loaded = await loadEnroll(rt, user);
  const live = query.other === undefined ? liveEnrollView(rt, loaded) : null;
  const returnTo = safeReturnTo(query.returnTo ?? (live ? loaded.challenge?.returnTo : undefined));
  const error = errorOf(rt, req, res)?.code ?? null;
  const nonce = newNonce();
  const view = {
    csrfToken: formToken(config.secrets[0] as string, user.id, user.sessionId ?? ''),
    hostCsrfToken: hostCsrfToken(req, rt.warnOnce),
  };
  const back = returnTo === '/' ? '' : `?returnTo=${encodeURIComponent(returnTo)}`;
  const hidden = `${hiddenTokens(view)}<input type="hidden" name="returnTo" value="${escapeHtml(returnTo)}">`;
  const alert = `<p class="tfa-error" id="tfa-error" role="alert">${error ? escapeHtml(errorText(texts, error)) : ''}</p>`;
  const title = onFile ? texts.enrollChangeTitle : texts.enrollTitle;
  const countries = countriesOf(config.allowedCountries);
  let body: string;
  let script = '';
  // Without JavaScript, "send again" looks and acts disabled until its cooldown is over (styles.ts).
  let waitRule = '';

  if (onFile && needsReverify(rt, req, user, enroll.maxAgeMs)) {
    // A change of number: first a code to the current number (the page says why and leads there).
    body = `<p class="tfa-intro" id="tfa-reverify">${withPhone(texts.enrollReverify, onFile.masked)}</p>
${alert}
<a class="tfa-primary tfa-link" id="tfa-reverify-link" href="${escapeHtml(reverifyUrl(routes, enroll.maxAgeMs, returnTo))}">${escapeHtml(texts.enrollReverifyAction)}</a>`;
  } else if (live) {
    const waiting = live.resendIn !== null && live.resendIn > 0;
    body = `<p class="tfa-intro" id="tfa-intro">${withPhone(texts.enrollSent, live.phone)}</p>
<form method="post" action="${escapeHtml(`${routes}/enroll/verify`)}" id="tfa-form" novalidate>${hidden}
<label class="tfa-label" for="tfa-code">${escapeHtml(texts.codeLabel)}</label>
<input class="tfa-code" id="tfa-code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="${config.codeLength + 4}" required autofocus${error === 'ERR_2FA_CODE_INVALID' ? ' aria-invalid="true"' : ''} aria-describedby="tfa-error tfa-code-hint">
<div class="tfa-slot">${alert}<p class="tfa-muted" id="tfa-code-hint">${escapeHtml(countText(texts.codeHint, config.codeLength, config.locale, { length: config.codeLength }))}</p></div>
<button class="tfa-primary" id="tfa-verify">${escapeHtml(texts.verify)}</button>
<div class="tfa-actions">${
      live.resendIn === null
        ? ''
        : `<button class="tfa-secondary${waiting ? ' tfa-wait' : ''}" id="tfa-resend" formaction="${escapeHtml(`${routes}/enroll/send`)}">${escapeHtml(texts.resend)}</button>`
    }</div>
</form>
<p class="tfa-alt"><a id="tfa-other" href="${escapeHtml(`${routes}/enroll?other=1${back ? `&${back.slice(1)}` : ''}`)}">${escapeHtml(texts.enrollOther)}</a></p>`;
    script = scriptTags(nonce, { codeLength: config.codeLength });
    if (waiting) waitRule = `#tfa-resend{--tfa-w:${Math.ceil(live.resendIn as number)}}`;
  } else {
    const first = countries[0] as CountryCode;
    const options = countries
      .map((c) => ({ c, name: countryName(c, config.locale) }))
      .sort((a, b) => a.name.localeCompare(b.name, config.locale))
      .map(
        ({ c, name }) => `<option value="${c}"${c === first ? ' selected' : ''}>${escapeHtml(name)}</option>`,
      )
      .join('');
    body = `<p class="tfa-intro" id="tfa-intro">${escapeHtml(texts.enrollIntro)}</p>
${onFile && enroll.notifyOld ? `<p class="tfa-muted" id="tfa-notice">${escapeHtml(texts.enrollNotice)}</p>` : ''}
<form method="post" action="${escapeHtml(`${routes}/enroll/send`)}" id="tfa-enroll-form" novalidate>${hidden}
<label class="tfa-label" for="tfa-country">${escapeHtml(texts.enrollCountry)}</label>
<select class="tfa-select" id="tfa-country" name="country" autocomplete="country">${options}</select>
<label class="tfa-label" for="tfa-phone">${escapeHtml(texts.enrollPhone)}</label>
<input class="tfa-phone" id="tfa-phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" maxlength="40" required autofocus${error === 'ERR_2FA_PHONE_INVALID' ? ' aria-invalid="true"' : ''} aria-describedby="tfa-error tfa-phone-hint">
<div class="tfa-slot">${alert}<p class="tfa-muted" id="tfa-phone-hint">${fill(texts.enrollPhoneHint, { example: exampleOf(first) })}</p></div>
<button class="tfa-primary" id="tfa-send">${escapeHtml(texts.enrollSend)}</button>
</form>`;
    script = scriptTags(nonce, { codeLength: config.codeLength, metadata: metadataFor(countries) });
  }
  sendDocument(res, config, {
    nonce,
    title,
    css: `${ENROLL_STYLES}${waitRule}`,
    mainId: 'tfa-enroll',
    body,
    scripts: script,
  });
}

/** The number field and the country list, in the look of the code field. */
const ENROLL_STYLES =
  '.tfa-select,.tfa-phone{display:block;width:100%;margin:.25rem 0 .75rem;padding:.6rem .75rem;font:inherit;font-size:1.125rem;color:var(--tfa-text);background:var(--tfa-card);border:1px solid var(--tfa-border);border-radius:10px}.tfa-phone[aria-invalid=true]{border-color:var(--tfa-error)}.tfa-link{display:block;margin-top:.75rem;padding:.7rem 1rem;border:2px solid var(--tfa-accent);border-radius:10px;background:var(--tfa-accent);color:var(--tfa-accent-text);font-weight:600;text-align:center;text-decoration:none}.tfa-link:focus-visible{outline:3px solid var(--tfa-accent);outline-offset:2px}';

function scriptTags(nonce: string, data: unknown): string {
  return `<script type="application/json" id="tfa-data" nonce="${nonce}">${scriptJson(data)}</script>
<script nonce="${nonce}">${enrollScript()}</script>`;
}
