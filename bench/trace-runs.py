#!/usr/bin/env python3
"""TurboFan compiles and deopts inside each variant's measured runs, from a bench log.

The servers must print their run edges and V8's traces into the log:
  BENCH_MARK_RUNS=1 BENCH_NODE_FLAGS="--trace-opt --trace-deopt" \
    npm run bench -- --only=guard --quick > guard-trace.log 2>&1
  python3 bench/trace-runs.py guard-trace.log
Each fire (warm-up or measured run) reads the server's CPU before and after it, and the server
prints `@@run-edge` at each read; fires follow measure()'s order (two warm-up passes, the second
reversed and logged, then the rounds as logged). A line between two edges of a measured run is
charged to that run's variant (only one server is loaded at a time; an idle one compiles little).
`ms` is V8's own three compile phases, wall time: on a loaded machine it counts waiting too.
"""
import collections
import re
import sys

lines = open(sys.argv[1], errors='replace').read().split('\n')
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
inside, fire = False, -1
for l in lines:
    if l.strip() == '@@run-edge':
        if not inside:
            fire += 1
        inside = not inside
        continue
    if not inside or fire < first or fire >= len(order):
        continue
    s = stats[order[fire]]
    if m := re.search(r'completed compiling .*took ([\d.]+), ([\d.]+), ([\d.]+) ms', l):
        s['compiles'] += 1
        s['ms'] += sum(float(x) for x in m.groups())
    elif 'bailout' in l:
        s['deopts'] += 1
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
