/**
 * The enrollment page's script (built and minified into the page, script.ts): formats the number
 * as it is typed, in the country chosen, with libphonenumber-js's AsYouType and the metadata of
 * the allowed countries only (from the page's data block). Without it the plain form works the
 * same: the server reads national and international formats alike. Type-checked with the DOM by
 * tsconfig.client.json (the base tsconfig.json leaves it out: server code has no DOM globals).
 */
import { AsYouType, type CountryCode, type MetadataJson } from 'libphonenumber-js/core';
import { keepDigits } from '../../page/client/code-input.js';

interface Data {
  /** On the number form only: the allowed countries' metadata. */
  metadata?: MetadataJson;
  codeLength: number;
}

function start(): void {
  let data: Data;
  try {
    data = JSON.parse((document.getElementById('tfa-data') as HTMLElement).textContent as string);
  } catch {
    return;
  }
  const phone = document.getElementById('tfa-phone') as HTMLInputElement | null;
  const country = document.getElementById('tfa-country') as HTMLSelectElement | HTMLInputElement | null;
  const code = document.getElementById('tfa-code') as HTMLInputElement | null;
  if (code) keepDigits(code, data.codeLength, () => code.removeAttribute('aria-invalid'));
  const metadata = data.metadata;
  if (!phone || !metadata) return;
  const format = () => {
    const region = (country?.value || undefined) as CountryCode | undefined;
    const typed = phone.value;
    // Only while the caret is at the end: reformatting in the middle would make it jump.
    if (phone.selectionStart !== null && phone.selectionStart < typed.length) return;
    const formatted = new AsYouType(region, metadata).input(typed);
    if (formatted && formatted !== typed) phone.value = formatted;
  };
  phone.addEventListener('input', (event) => {
    // Deleting a space or a bracket must not put it straight back.
    if ((event as InputEvent).inputType?.startsWith('delete')) return;
    format();
  });
  country?.addEventListener('change', format);
  format();
}

start();
