// memory: heap bytes per pending challenge, 100 000 challenges in the memory store.
import { type Heap, startServer } from '../child.js';
import type { CaseResult, Context, Row } from '../report.js';

const CHALLENGES = 100_000;
/**
 * Sends before the heap is first read: the JIT, and every bounded cache of the package full (the
 * largest hold 10,000: session fingerprints, verified claims, user keys, number hashes, challenge
 * cookies). A full BoundedCache turns over by halves (5,000 here), and the measured counts are
 * multiples of that, so each cache holds as much after as before: what is left is per challenge.
 */
const WARM_UP = 10_000;
const TARGET_BYTES = 512; // issue 14, counting the store's own slots

/**
 * The server calls its own `POST /2fa/send` in-process for 100 000 users (each its own number, so each
 * challenge creates its own per-number budget counters). Heap is read with two forced GCs before and
 * after; the difference covers the challenge record, its send state, its message-id link, the budget
 * counters and the store's own index growth. The transport keeps nothing and express-session is not
 * involved (the user comes from a header), so nothing else grows.
 */
export async function memoryCase(ctx: Context): Promise<CaseResult> {
  const count = ctx.quick ? 20_000 : CHALLENGES;
  const max = 1_000_000;
  const server = await startServer(
    'memory',
    { kind: 'app', auth: 'header', store: 'memory', storeMax: max, transport: 'silent' },
    { profile: ctx.profile },
  );
  try {
    const warm = await server.request<Record<string, number>>('fill', { from: 0, count: WARM_UP });
    const before = await server.heap();
    const t0 = Date.now();
    const statuses = await server.request<Record<string, number>>('fill', { from: WARM_UP, count });
    const seconds = (Date.now() - t0) / 1000;
    const after = await server.heap();
    const slots = await server.request<{ perSlot: number; heapBytes: number; bufferBytes: number }>(
      'slotcost',
      {
        max,
      },
    );
    const ok = statuses['200'] ?? 0;
    if (ok !== count || warm['200'] !== WARM_UP) {
      throw new Error(`memory: sends answered ${JSON.stringify(statuses)} (warm-up ${JSON.stringify(warm)})`);
    }
    const grow = (k: keyof Heap) => Number(after[k] ?? 0) - Number(before[k] ?? 0);
    const perChallenge = grow('heapUsed') / count;
    const entries = grow('storeSize') / count;
    const withSlots = perChallenge + entries * slots.perSlot;
    ctx.log(
      `  ${count} challenges in ${seconds.toFixed(1)} s: heap +${(grow('heapUsed') / 2 ** 20).toFixed(1)} MiB, ` +
        `${entries.toFixed(3)} store entries each, ${Math.round(perChallenge)} B each ` +
        `(+ ${Math.round(entries * slots.perSlot)} B of slots preallocated for \`max\`)`,
    );
    const rows: Row[] = [
      {
        case: 'memory',
        variant: `heap per pending challenge (${count.toLocaleString('en-US')})`,
        value: `${Math.round(perChallenge)} B`,
        target: `≤ ${TARGET_BYTES} B`,
        met: perChallenge <= TARGET_BYTES,
        note: `${entries.toFixed(2)} store entries per challenge`,
      },
      {
        case: 'memory',
        variant: 'same, with its share of the preallocated slots',
        value: `${Math.round(withSlots)} B`,
        target: `≤ ${TARGET_BYTES} B`,
        met: withSlots <= TARGET_BYTES,
        note: `${slots.perSlot.toFixed(1)} B preallocated per \`max\` slot`,
      },
    ];
    return {
      name: 'memory',
      rows,
      details: {
        challenges: count,
        fillSeconds: seconds,
        before,
        after,
        bytesPerChallenge: perChallenge,
        entriesPerChallenge: entries,
        bytesPerEntry: grow('heapUsed') / grow('storeSize'),
        externalGrowth: grow('external'),
        slotCost: slots,
        bytesPerChallengeWithSlots: withSlots,
      },
    };
  } finally {
    await server.stop();
  }
}
