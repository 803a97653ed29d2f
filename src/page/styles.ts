/**
 * The page's CSS. The card sits at a fixed distance from the top (never centred: a message that
 * appears must not move what is above it), and every line that comes and goes has its space kept:
 * the status line, and one slot where the hint and an error take turns.
 *
 * Without JavaScript a button that must wait (`.tfa-wait`) looks and acts disabled until its
 * `--tfa-w` seconds are over, and `.tfa-until` hides a message then: CSS animations with a delay,
 * so nothing on the page states a time that has passed. The script replaces both with live text.
 */
export const STYLES = `
:root{color-scheme:light dark;--tfa-accent:#1d4ed8;--tfa-accent-text:#fff;--tfa-accent-soft:#e0e9ff;--tfa-bg:#eef1f6;--tfa-card:#fff;--tfa-text:#111827;--tfa-muted:#4b5563;--tfa-border:#6b7280;--tfa-error:#b91c1c;--tfa-ok:#166534;--tfa-warn:#92400e;--tfa-off:#e5e7eb;--tfa-radius:14px}
@media (prefers-color-scheme:dark){:root{--tfa-accent:#93b4ff;--tfa-accent-text:#0b1020;--tfa-accent-soft:#1e2a4a;--tfa-bg:#0f1115;--tfa-card:#1a1d24;--tfa-text:#f3f4f6;--tfa-muted:#c2c7d0;--tfa-border:#8b93a1;--tfa-error:#fca5a5;--tfa-ok:#86efac;--tfa-warn:#fcd34d;--tfa-off:#2a2f3a}}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;padding:clamp(.75rem,8vh,4.5rem) .75rem 2rem;background:var(--tfa-bg);color:var(--tfa-text);font:16px/1.5 system-ui,-apple-system,sans-serif}
.tfa-card{max-width:27rem;margin:0 auto;background:var(--tfa-card);border-radius:var(--tfa-radius);padding:2rem 1.75rem 1.5rem;box-shadow:0 1px 2px #0000000f,0 8px 24px #00000014}
.tfa-icon{display:grid;place-items:center;width:3rem;height:3rem;margin-bottom:1rem;border-radius:50%;background:var(--tfa-accent-soft);color:var(--tfa-accent)}
.tfa-icon svg{width:1.5rem}
.tfa-title{font-size:1.5rem;line-height:1.25;margin:0 0 .5rem}
.tfa-card p{margin:.5rem 0}
.tfa-intro{min-height:3em}
.tfa-intro strong{white-space:nowrap}
.tfa-muted{color:var(--tfa-muted);font-size:.95rem}
.tfa-status{min-height:1.5em;font-weight:600;color:var(--tfa-muted)}
[data-tone=ok]{color:var(--tfa-ok)}
[data-tone=warn]{color:var(--tfa-warn)}
.tfa-label{display:block;font-weight:600;margin-top:1rem}
.tfa-code{display:block;width:100%;margin:.4rem 0 .25rem;padding:.55rem;font:600 1.75rem/1.2 ui-monospace,monospace;letter-spacing:.35em;text-indent:.35em;text-align:center;border:2px solid var(--tfa-border);border-radius:10px;background:var(--tfa-card);color:inherit}
.tfa-code:disabled{border-style:dashed}
.tfa-code:focus{--tfa-ring:var(--tfa-accent);outline:0;border-color:var(--tfa-ring);box-shadow:0 0 0 2px var(--tfa-ring)}
.tfa-code[aria-invalid=true]{--tfa-ring:var(--tfa-error);border-color:var(--tfa-error)}
@media (forced-colors:active){.tfa-code:disabled{border-style:dashed}
.tfa-code:focus{outline:2px solid}}
.tfa-slot{display:grid;min-height:3em;margin-top:.25rem;font-size:.95rem}
.tfa-slot>p{grid-area:1/1;margin:0}
.tfa-error{color:var(--tfa-error);font-weight:600;border-left:3px solid;padding-left:.6rem}
.tfa-error:empty{border:0}
.tfa-error:not(:empty)~p{visibility:hidden}
.tfa-card button{font:inherit;line-height:1.25;cursor:pointer;border-radius:10px;padding:.7rem 1rem;min-height:2.75rem;width:100%;border:2px solid var(--tfa-accent);background:var(--tfa-bg-b);color:var(--tfa-fg-b)}
.tfa-card .tfa-primary{--tfa-bg-b:var(--tfa-accent);--tfa-fg-b:var(--tfa-accent-text);margin-top:.75rem;font-weight:600}
.tfa-card .tfa-secondary{--tfa-bg-b:transparent;--tfa-fg-b:var(--tfa-accent);border-width:1px}
.tfa-card button:hover{background:var(--tfa-accent-soft);color:var(--tfa-accent)}
.tfa-card button:focus-visible{outline:3px solid var(--tfa-accent);outline-offset:2px}
.tfa-card button:disabled,.tfa-card .tfa-wait{cursor:not-allowed;pointer-events:none;background:var(--tfa-off);border-style:dashed;border-color:var(--tfa-border);color:var(--tfa-muted)}
.tfa-wait{animation:tfa-ready 0s calc(var(--tfa-w)*1s) forwards}
.tfa-until{animation:tfa-off 0s calc(var(--tfa-w)*1s) forwards}
@keyframes tfa-ready{to{cursor:pointer;pointer-events:auto;background:var(--tfa-bg-b);border-style:solid;border-color:var(--tfa-accent);color:var(--tfa-fg-b)}}
@keyframes tfa-off{to{visibility:hidden}}
.tfa-actions{display:grid;gap:.5rem;margin-top:1.25rem;padding-top:1.25rem;border-top:1px solid #8888}
.tfa-alt{text-align:center}.tfa-alt a{color:var(--tfa-accent);font-weight:600}
.tfa-foot{margin-top:1.25rem!important;font-size:.875rem}
.tfa-foot+*{display:block;margin-top:.75rem;text-align:center;color:var(--tfa-accent)}
@media (max-width:30rem){.tfa-card{padding:1.5rem 1.25rem 1.25rem}}
`;
