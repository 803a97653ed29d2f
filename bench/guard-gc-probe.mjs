// Diagnostic preload for the guard case's servers: per server process and path, how many requests
// were answered and which collections ran while that path was being served (scavenges,
// mark-compacts, their time), so that the two processes' variants compare by counts that do not
// depend on the machine's load. With GUARD_NOPROP=1 it also loads the package's build without the
// guard's `req.secondFactor = info;` (a module hook rewrites bench/dist/index.js as it is loaded):
// a diagnostic build, never shipped, that answers the same bytes (the case checks them).
//   BENCH_NODE_FLAGS="--import $PWD/bench/guard-gc-probe.mjs" npm run bench -- --only=guard --quick
//   GUARD_NOPROP=1 BENCH_NODE_FLAGS="--import $PWD/bench/guard-gc-probe.mjs" npm run bench -- --only=guard --quick
// Prints `@@gc <process> <path>: …` lines at exit (and every 30 s). A collection is charged to the
// path of the request that arrived last (one path at a time runs in the measured windows; the
// warm-ups and setup are counted too; the forced collections before each run are not).
import http from 'node:http';
import { register } from 'node:module';
import { constants, PerformanceObserver } from 'node:perf_hooks';

const label = (() => {
  try {
    return JSON.parse(process.argv[2] ?? '{}').rememberDevice ? 'remember' : 'first';
  } catch {
    return '?';
  }
})();

if (process.env.GUARD_NOPROP === '1') {
  // The statement as tsup emits it (three times: the guard, its async pass, step-up). The hook
  // fails loudly if it is not there, so a diagnostic run cannot silently measure the real build.
  const hooks = `
    export async function load(url, context, next) {
      const result = await next(url, context);
      if (!url.endsWith('/bench/dist/index.js')) return result;
      const source = String(result.source);
      const stripped = source.replaceAll('req.secondFactor = info;', '/* noprop */');
      if (stripped === source) throw new Error('guard-gc-probe: req.secondFactor = info; not found in ' + url);
      return { ...result, source: stripped };
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url);
  process.stdout.write(`@@gc ${label} ${process.pid}: GUARD_NOPROP=1, req.secondFactor is not set\n`);
}

const stats = new Map();
let current = '-';
const of = (path) => {
  let s = stats.get(path);
  if (!s) {
    s = { requests: 0, scavenges: 0, scavengeMs: 0, majors: 0, majorMs: 0, others: 0, otherMs: 0 };
    stats.set(path, s);
  }
  return s;
};
const emit = http.Server.prototype.emit;
http.Server.prototype.emit = function (event, req, res, ...rest) {
  if (event === 'request') {
    current = req.url;
    of(current).requests++;
  }
  return emit.call(this, event, req, res, ...rest);
};
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const s = of(current);
    const kind = entry.detail?.kind;
    // The harness's own collections (gc() before each run) are left out: same number per run.
    if ((entry.detail?.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) continue;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      s.scavenges++;
      s.scavengeMs += entry.duration;
    } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      s.majors++;
      s.majorMs += entry.duration;
    } else {
      s.others++;
      s.otherMs += entry.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });

const report = () => {
  const lines = [...stats]
    .filter(([, s]) => s.requests >= 100)
    .map(([path, s]) => {
      const k = s.requests / 1000;
      return (
        `@@gc ${label} ${path}: ${s.requests} requests; per 1000: ${(s.scavenges / k).toFixed(2)} scavenges ` +
        `(${(s.scavengeMs / k).toFixed(1)} ms), ${(s.majors / k).toFixed(3)} mark-compacts (${(s.majorMs / k).toFixed(1)} ms), ` +
        `${(s.others / k).toFixed(2)} other (${(s.otherMs / k).toFixed(1)} ms)`
      );
    });
  process.stdout.write(`${lines.join('\n')}\n`);
};
setInterval(report, 30_000).unref();
process.on('exit', report);
