#!/usr/bin/env python3
"""TurboFan compiles, deopts and bytecode flushes around each variant's measured runs, from a bench log.

The servers must print their run edges and V8's traces into the log:
  BENCH_MARK_RUNS=1 BENCH_NODE_FLAGS="--trace-opt --trace-deopt --trace-flush-code" \
    npm run bench -- --only=guard --quick > guard-trace.log 2>&1
  python3 bench/trace-runs.py guard-trace.log [--names=REGEX]
Each fire (warm-up or measured run) reads the server's CPU before and after it, and the server
prints `@@run-edge` at each read; fires follow measure()'s order (two warm-up passes, the second
reversed and logged, then the rounds as logged). A line between two edges of a measured run is
charged to that run's variant (only one server is loaded at a time; an idle one compiles little).
`ms` is V8's own three compile phases, wall time: on a loaded machine it counts waiting too.

Bytecode flushes (`--trace-flush-code`: V8 discards the bytecode of a function that has not run
through the interpreter for `--bytecode-old-age` mark-compacts, and the function starts over, lazy
compile and all): each `[discarding compiled metadata for <name>]` line is charged to the process
whose `N flushed SharedFunctionInfo(s)` summary follows it (its pid), and to the fire it happened in
or after. With `--names`, the functions matching REGEX (default: the guard's) are listed: how often
each was flushed per process, and how often TurboFan compiled it inside each variant's runs.
"""
import collections
import re
import sys

args = [a for a in sys.argv[1:] if not a.startswith('--')]
names = next((a.split('=', 1)[1] for a in sys.argv[1:] if a.startswith('--names=')), None)
watch = re.compile(
    names
    or r'^(requireSecondFactor|decide|verifiedInfo|readVerified|readClaim|userFrom|cacheKeyOf|checkUser|'
    r'readCookie|namesFor|routesFor|find|claimAt|boundTo|isHttps|hasDeviceCookie|pass|getUser)$'
)
lines = open(args[0], errors='replace').read().split('\n')
seconds = next(float(m.group(1)) for l in lines if (m := re.search(r'rounds × ([\d.]+) s per variant', l)))
warm = [m.group(1) for l in lines if (m := re.match(r'\s*warm-up (.*): \d+ req/s', l))]
order = warm[::-1] + warm  # pass 0 (not logged), then pass 1 (logged, reversed)
requests = [0.0] * len(order)
for l in lines:
    if m := re.match(r'\s*round \d+/\d+: (.*)', l):
        for part in m.group(1).split('; '):
            r = re.match(r'(.*) (\d+)/s \d+ µs', part)
            order.append(r.group(1))
            requests.append(int(r.group(2)) * seconds)
first = 2 * len(warm)
stats = collections.defaultdict(collections.Counter)
compiled = collections.defaultdict(collections.Counter)  # variant -> function -> TurboFan compiles
inside, fire = False, -1
flushed = []  # (fire, inside, name), pid unknown until the summary line
flushes = []  # (fire, inside, name, pid)
for l in lines:
    if l.strip() == '@@run-edge':
        if not inside:
            fire += 1
        inside = not inside
        continue
    if m := re.search(r'\[discarding compiled metadata for (?:0x[0-9a-f]+ )?<SharedFunctionInfo ?([^>]*)>', l):
        flushed.append((fire, inside, m.group(1).strip()))
        continue
    if m := re.search(r'\[(\d+):0x[0-9a-f]+\].*?(\d+) flushed SharedFunctionInfo', l):
        flushes.extend((f, i, n, int(m.group(1))) for f, i, n in flushed)
        flushed = []
        continue
    if not inside or fire < first or fire >= len(order):
        continue
    s = stats[order[fire]]
    if m := re.search(r'completed compiling .*took ([\d.]+), ([\d.]+), ([\d.]+) ms', l):
        s['compiles'] += 1
        s['ms'] += sum(float(x) for x in m.groups())
        if (f := re.search(r'<JSFunction (\S+)', l)) and watch.match(f.group(1)):
            compiled[order[fire]][f.group(1)] += 1
    elif 'bailout' in l:
        s['deopts'] += 1
# Node 20's V8 prints no per-process summary: those flushes stay unattributed (pid None).
flushes.extend((f, i, n, None) for f, i, n in flushed)
runs = collections.Counter(order[first:])
served = collections.Counter()
for name, n in zip(order[first:], requests[first:]):
    served[name] += n
print(f'{fire + 1} fires found, {len(order)} expected ({first} warm-ups)')
for name in warm[::-1]:
    s, n = stats[name], runs[name]
    print(
        f"{name:42s} {n:3d} runs: {s['compiles'] / n:5.2f} compiles and {s['deopts'] / n:4.2f} deopts per run, "
        f"{s['ms'] / n:6.1f} ms of compiling per run ({1000 * s['ms'] / max(served[name], 1):5.1f} µs per request)"
    )
if flushes:
    # The process of each pid: the variant whose measured runs saw most of its flush summaries.
    owner = collections.defaultdict(collections.Counter)
    for f, i, _, pid in flushes:
        if i and pid is not None and first <= f < len(order):
            owner[pid][order[f]] += 1
    label = {pid: f'pid {pid} (busiest in: {c.most_common(1)[0][0]})' for pid, c in owner.items()}
    print(f'\n{len(flushes)} functions flushed in all (warm-ups included)')
    per = collections.defaultdict(collections.Counter)
    for f, i, name, pid in flushes:
        if watch.match(name):
            where = order[f] if first <= f < len(order) else 'warm-up'
            per[(label.get(pid, f'pid {pid}'), name)][f"{'in' if i else 'after'} {where}"] += 1
    for (who, name), where in sorted(per.items()):
        print(f'  flushed {name} in {who}: {sum(where.values())}× ({dict(where)})')
    if not per:
        print('  none of the watched functions was flushed')
for variant, c in compiled.items():
    print(f'TurboFan compiles of watched functions inside {variant} runs: {dict(c)}')
