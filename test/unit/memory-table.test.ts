import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/index.js';
import { entryOf, memberOf, PARTS, pack, unpack, withMember } from '../../src/stores/memory-entries.js';
import { EntryTable } from '../../src/stores/memory-table.js';
import { random, sorted } from '../helpers/random.js';

describe('EntryTable (the memory store table: key and entry in one string)', () => {
  it('answers like a Map over 20,000 random sets, replacements and deletes, growing and shrinking', () => {
    const next = random(14);
    const table = new EntryTable();
    const model = new Map<string, string>();
    const mismatches: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Few distinct keys at first and at the end (shrinking), many in the middle (growing).
      const spread = i < 15_000 ? 40 + i : 200;
      const key = `k:${Math.floor(next() * spread)}`;
      const roll = next();
      if (roll < 0.55 || i >= 15_000) {
        if (roll < 0.8 && i < 15_000) {
          const value = `v${i}${roll < 0.1 ? '€' : ''}`;
          table.set(key, value);
          model.set(key, value);
        } else if (table.delete(key) !== model.delete(key)) mismatches.push(i);
      }
      if (i % 997 === 0) {
        expect(table.size).toBe(model.size);
        expect(sorted(table.entries())).toEqual(sorted(model));
      }
      if (table.get(key) !== model.get(key) || table.has(key) !== model.has(key)) mismatches.push(i);
    }
    expect(mismatches).toEqual([]);
    expect(table.size).toBe(model.size);
    expect(sorted(table.entries())).toEqual(sorted(model));
  });

  it('keeps the same entries with `narrow` writes (one native join) as with plain ones', () => {
    const next = random(16);
    const plain = new EntryTable();
    const narrow = new EntryTable();
    for (let i = 0; i < 5_000; i++) {
      const key = `k:${Math.floor(next() * 300)}${next() < 0.01 ? '\u0000' : ''}`;
      const roll = next();
      if (roll < 0.1) expect(narrow.delete(key)).toBe(plain.delete(key));
      else {
        const entry = `${'0123456'.slice(0, 1 + Math.floor(next() * 7))}${i}${roll < 0.12 ? '€' : ''}`;
        plain.set(key, entry);
        narrow.set(key, entry, true);
      }
      expect(narrow.get(key)).toBe(plain.get(key));
    }
    expect(sorted(narrow.entries())).toEqual(sorted(plain.entries()));
  });

  it('keeps a key apart from its prefixes and extensions, and keys holding a NUL apart from the rest', () => {
    const table = new EntryTable();
    table.set('c:ab', 'x');
    table.set('c:a', 'b\u0000c');
    table.set('c:a\u0000b', 'y'); // would read as `c:a`'s entry if it were stored as `key NUL entry`
    table.set('', 'empty key');
    expect(table.get('c:a')).toBe('b\u0000c');
    expect(table.get('c:ab')).toBe('x');
    expect(table.get('c:a\u0000b')).toBe('y');
    expect(table.get('c:a\u0000')).toBeUndefined();
    expect(table.get('c:')).toBeUndefined();
    expect(table.get('')).toBe('empty key');
    expect(table.size).toBe(4);
    expect(table.delete('c:a\u0000b')).toBe(true);
    expect(table.get('c:a')).toBe('b\u0000c');
    expect(sorted(table.entries())).toEqual([
      ['', 'empty key'],
      ['c:a', 'b\u0000c'],
      ['c:ab', 'x'],
    ]);
    table.clear();
    expect(table.size).toBe(0);
    expect(table.get('c:a')).toBeUndefined();
  });

  it('finds a key however it was looked up before: the same text as another string, the empty key, in any order', () => {
    // The table remembers the hashes of the last keys it looked up (a verify reads a challenge's key
    // three times); a lookup must find the same slot whatever came before it.
    const next = random(61);
    const table = new EntryTable();
    const model = new Map<string, string>();
    const names = ['', 'c:x', 'a:x', 's:x', 'f:{u}', 'fa:{u}', 'v:{u}', 'c:y', 'x'];
    /** The key's text as a fresh string each time (not the literal V8 keeps once). */
    const fresh = (name: string) => [name.slice(0, 1), name.slice(1)].join('');
    const wrong: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      const key = fresh(names[Math.floor(next() * names.length)] as string);
      const roll = next();
      if (roll < 0.3) {
        table.set(key, `v${i}`, roll < 0.1);
        model.set(key, `v${i}`);
      } else if (roll < 0.45) {
        if (table.delete(key) !== model.delete(key)) wrong.push(`delete ${i} ${key}`);
      } else if (table.get(key) !== model.get(key) || table.has(key) !== model.has(key)) {
        wrong.push(`read ${i} ${key}`);
      }
      // Filler keys now and then: the table grows and shrinks around the ones above.
      if (i % 50 === 0) for (let j = 0; j < 40; j++) table.set(`k:${i}:${j}`, 'f');
      if (i % 50 === 25) for (let j = 0; j < 40; j++) table.delete(`k:${i - 25}:${j}`);
    }
    expect(wrong).toEqual([]);
    for (const [key, entry] of model) expect(table.get(fresh(key))).toBe(entry);
  });

  it('finds, replaces and deletes a key holding a lone surrogate, and keeps its entry exactly', () => {
    // UTF-8 cannot hold a lone surrogate: a flat copy through it would store U+FFFD in its place, a
    // key no lookup finds, added again on every write.
    const table = new EntryTable();
    const key = 'r:{ab}\ud800c';
    for (let i = 0; i < 3; i++) table.set(key, `v${i}\udc00`);
    expect(table.size).toBe(1);
    expect(table.get(key)).toBe('v2\udc00');
    expect(table.get('r:{ab}\ufffdc')).toBeUndefined();
    expect(table.delete(key)).toBe(true);
    expect(table.size).toBe(0);
  });
});

describe('memoryStore() on the table', () => {
  it('keeps keys that are prefixes of each other, or hold a NUL, apart', async () => {
    const store = memoryStore();
    await store.set('r:{ab}c', 'one', 60_000);
    await store.set('r:{ab}', 'c\u0000two', 60_000);
    await store.set('r:{ab}\u0000c', 'three', 60_000);
    expect(await store.getMany(['r:{ab}c', 'r:{ab}', 'r:{ab}\u0000c', 'r:{a'])).toEqual([
      'one',
      'c\u0000two',
      'three',
      undefined,
    ]);
    await store.delete('r:{ab}');
    expect(await store.getMany(['r:{ab}c', 'r:{ab}', 'r:{ab}\u0000c'])).toEqual(['one', undefined, 'three']);
    expect(store.size).toBe(2);
  });

  it('keeps writing one key holding a lone surrogate as one entry (no copy per write filling `max`)', async () => {
    const store = memoryStore({ max: 1 });
    for (let i = 0; i < 3; i++) await store.set('u:\udfff', `value ${i} \ud800`, 60_000);
    expect(store.size).toBe(1);
    expect(await store.get('u:\udfff')).toBe('value 2 \ud800');
    expect(await store.increment('n:\ud800', 60_000).catch((e: unknown) => e)).toMatchObject({
      code: 'ERR_2FA_STORE_UNAVAILABLE', // full: the one entry is the surrogate key's
    });
    await store.delete('u:\udfff');
    expect(store.size).toBe(0);
  });

  it('holds 5,000 challenges (record, state, attempts) and loses none as the table grows', async () => {
    const store = memoryStore({ max: 20_000 });
    for (let i = 0; i < 5000; i++) {
      await store.set(`c:id${i}`, `["record ${i}"]`, 60_000);
      await store.set(`s:id${i}`, `[${i}]`, 60_000);
      await store.increment(`a:id${i}`, 60_000);
      await store.set(`r:{u}${i}`, `id${i}`, 60_000);
    }
    expect(store.size).toBe(15_000); // the attempt counter is an entry of its own
    for (let i = 0; i < 5000; i += 7) {
      expect(await store.getMany([`c:id${i}`, `s:id${i}`, `a:id${i}`, `r:{u}${i}`])).toEqual([
        `["record ${i}"]`,
        `[${i}]`,
        '1',
        `id${i}`,
      ]);
    }
    for (let i = 0; i < 5000; i++) await store.consume(`c:id${i}`);
    expect(store.size).toBe(15_000); // the state still holds the shared entry
    for (let i = 0; i < 5000; i++) {
      await store.delete(`s:id${i}`);
      await store.delete(`a:id${i}`);
    }
    expect(store.size).toBe(5000);
    expect(await store.get('r:{u}4999')).toBe('id4999');
  });
});

describe("a challenge's shared entry, packed", () => {
  it('gives back exactly what was packed, control characters, quotes and non-ASCII included', () => {
    const next = random(15);
    const alphabet = ['"', ',', '[', ']', '\u0001', '\u0005', '\u0006', 'a', '1', '€', '\\'];
    const values = ['', '\u0006', '\u0006x', '["","",""]', '[1,"a",["b"]]', '"]","['];
    for (let i = 0; i < 2000; i++) {
      values.push(
        Array.from(
          { length: Math.floor(next() * 12) },
          () => alphabet[Math.floor(next() * alphabet.length)],
        ).join(''),
      );
    }
    const wrong = values.filter((value) => unpack(pack(value)) !== value);
    expect(wrong).toEqual([]);
    expect(pack('["u1","abc",17,"/"]').length).toBe('["u1","abc",17,"/"]'.length - 6);
  });

  it('writes one part as a rebuild from scratch would, when only its characters change too', () => {
    // withMember swaps a part of the same stored length in place (a send state's count going 1 -> 2);
    // the result must be the canonical entry the full rebuild gives for the same parts.
    const next = random(17);
    const expiries = [1_000, 2_000, 3_000];
    const values = [
      '1',
      '2',
      '9',
      '10',
      '',
      '["u1","s",1]',
      '["u2","t",2]',
      '[1,"sms","sent",["m1"]]',
      '\u0001',
    ];
    const pick = <T>(list: T[]) => list[Math.floor(next() * list.length)] as T;
    const fromScratch = (parts: (string | undefined)[]) =>
      parts.reduce<string | undefined>(
        (shared, entry, part) => (entry === undefined ? shared : withMember(shared, part, entry)),
        undefined,
      );
    let parts: (string | undefined)[] = new Array(PARTS).fill(undefined);
    let shared: string | undefined;
    for (let i = 0; i < 20_000; i++) {
      const part = Math.floor(next() * PARTS);
      const entry = next() < 0.1 ? undefined : entryOf(pick(values), pick(expiries));
      shared = withMember(shared, part, entry);
      parts = parts.map((old, at) => (at === part ? entry : old));
      expect(shared, `step ${i}`).toBe(fromScratch(parts));
      // The header: a stored length per part up to the last one present, `;`, then the parts.
      const header = shared === undefined ? [] : shared.slice(0, shared.indexOf(';')).split(',');
      expect(header.length).toBe(parts.findLastIndex((p) => p !== undefined) + 1);
      for (let at = 0; at < PARTS; at++) expect(shared && memberOf(shared, at)).toBe(parts[at]);
    }
  });

  it("keeps the send state's own expiry when it was the record's and the record goes first", async () => {
    let time = 1_000;
    const store = memoryStore({ now: () => time });
    const id = 'AbCdEfGhIjKlMnOpQrStUvWx{Ab_}';
    await store.set(`c:${id}`, '["u1","s",1]', 60_000);
    await store.set(`s:${id}`, '[1,"sms","sent",["m1"]]', 60_000); // same expiry: not repeated
    await store.set(`a:${id}`, '', 60_000); // an empty value with the same expiry is still there
    expect(await store.getMany([`c:${id}`, `s:${id}`, `a:${id}`])).toEqual([
      '["u1","s",1]',
      '[1,"sms","sent",["m1"]]',
      '',
    ]);
    expect(await store.consume(`c:${id}`)).toBe('["u1","s",1]');
    time += 59_999;
    expect(await store.getMany([`c:${id}`, `s:${id}`, `a:${id}`])).toEqual([
      undefined,
      '[1,"sms","sent",["m1"]]',
      '',
    ]);
    time += 1;
    expect(await store.getMany([`s:${id}`, `a:${id}`])).toEqual([undefined, undefined]);
    expect(store.size).toBe(0);
  });
});
