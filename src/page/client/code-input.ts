// Browser code, bundled into the page (build-script.ts): type-checked with the DOM by
// tsconfig.client.json; the base tsconfig.json leaves it out, so server code has no DOM globals.
/**
 * The code out of whatever landed in the field: the digits as typed, or the code in a pasted (or
 * autofilled) SMS, which is its run of exactly `length` digits (the WebOTP line repeats the same
 * code); failing that, all its digits ("123 456"), cut to length.
 */
export function codeFrom(text: string, length: number): string {
  const runs = text.match(/\d+/g) ?? [];
  return (runs.find((run) => run.length === length) ?? runs.join('')).slice(0, length);
}

/** Keeps the field to the code's digits as the user types or pastes. */
export function keepDigits(field: HTMLInputElement, length: number, onInput: () => void): void {
  // The server-rendered limit would cut a pasted SMS to its first words before it could be read.
  field.removeAttribute('maxlength');
  field.addEventListener('input', () => {
    const code = codeFrom(field.value, length);
    if (code !== field.value) field.value = code;
    onInput();
  });
}
