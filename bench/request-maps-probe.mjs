// Diagnostic preload: do a bench server's requests share hidden classes, are they in dictionary mode?
// BENCH_NODE_FLAGS="--allow-natives-syntax --import $PWD/bench/request-maps-probe.mjs" npm run bench -- --only=guard --quick
// Every 15 s, per server process and path: finished requests (`finish`), the share whose map is
// the previous finished one's (`sameAsPrev`) and the share in dictionary mode (`dict`); one
// %DebugPrint of a request on arrival (its in-object field count) and two when finished. (The
// `arrive` and `proto` rows compare with a request that has moved on since: always 0.)
// Diagnostics only: it wraps Object.setPrototypeOf and Server#emit, and costs CPU.
import http from 'node:http';

const same = new Function('a', 'b', 'return %HaveSameMap(a, b)');
const fast = new Function('a', 'return %HasFastProperties(a)');
const debug = new Function('a', '%DebugPrint(a)');
const label = (() => {
  try {
    const c = JSON.parse(process.argv[2] ?? '{}');
    return c.rememberDevice ? 'remember' : 'first';
  } catch {
    return '?';
  }
})();
const stats = new Map();
const prev = new Map();
function check(stage, path, obj) {
  const key = `${stage} ${path}`;
  let s = stats.get(key);
  if (!s) {
    s = { n: 0, same: 0, slow: 0 };
    stats.set(key, s);
  }
  s.n++;
  if (!fast(obj)) s.slow++;
  const p = prev.get(key);
  if (p && same(p, obj)) s.same++;
  prev.set(key, obj);
}
const orig = Object.setPrototypeOf;
Object.setPrototypeOf = function setPrototypeOf(o, p) {
  const r = orig(o, p);
  if (o instanceof http.IncomingMessage) check('proto', o.url, o);
  return r;
};
let printed = 0;
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res, ...rest) {
  if (event === 'request') {
    const path = req.url;
    check('arrive', path, req);
    const a = stats.get(`arrive ${path}`);
    if (a.n === 300 && path === '/bare') {
      process.stdout.write(`@@probe ${label} ${process.pid} arrival DebugPrint\n`);
      debug(req);
      process.stdout.write(`@@probe-end\n`);
    }
    res.once('finish', () => {
      check('finish', path, req);
      const s = stats.get(`finish ${path}`);
      if ((s.n === 3000 || s.n === 60000) && printed < 4 && path.startsWith('/bare')) {
        printed++;
        process.stdout.write(`@@probe ${label} ${process.pid} DebugPrint ${path} #${s.n}\n`);
        debug(req);
        process.stdout.write(`@@probe-end\n`);
      }
    });
  }
  return emit.call(this, event, req, res, ...rest);
};
const report = () => {
  const lines = [...stats]
    .filter(([, s]) => s.n > 100)
    .map(
      ([k, s]) => `${k}: n=${s.n} sameAsPrev=${(s.same / s.n).toFixed(3)} dict=${(s.slow / s.n).toFixed(3)}`,
    );
  process.stdout.write(
    `@@probe ${label} ${process.pid} ${new Date().toISOString()}\n  ${lines.join('\n  ')}\n`,
  );
};
setInterval(report, 15000).unref();
process.on('exit', report);
