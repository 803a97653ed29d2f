// An in-process stand-in for a PostgreSQL connection (a Duplex that pg's Client takes as its
// `stream`): it answers the extended protocol with canned replies, so the JS cost of a query (pg,
// pg-protocol, the store) can be measured without sockets, syscalls or a server. Answers every
// Sync on the next macrotask (setImmediate), like a reply arriving on a later event-loop turn.
import { Duplex } from 'node:stream';

const TEXT = 25;
const INT8 = 20;

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

const cstring = (s: string) => Buffer.from(`${s}\0`);

export interface CannedResult {
  /** Column names and type OIDs (text 25, int8 20). */
  columns: [string, number][];
  /** One row's values as text, null for NULL. */
  row: () => (string | null)[];
}

function rowDescription(columns: [string, number][]): Buffer {
  const parts = [int16(columns.length)];
  for (const [name, oid] of columns) {
    parts.push(
      cstring(name),
      int32(0),
      int16(0),
      int32(oid),
      int16(oid === INT8 ? 8 : -1),
      int32(-1),
      int16(0),
    );
  }
  return message('T', Buffer.concat(parts));
}

function dataRow(values: (string | null)[]): Buffer {
  const parts = [int16(values.length)];
  for (const v of values) {
    if (v === null) parts.push(int32(-1));
    else {
      const b = Buffer.from(v);
      parts.push(int32(b.length), b);
    }
  }
  return message('D', Buffer.concat(parts));
}

const described = new WeakMap<CannedResult, Buffer>();
/** The RowDescription of a canned result, built once. */
function describe(result: CannedResult): Buffer {
  let b = described.get(result);
  if (!b) {
    b = rowDescription(result.columns);
    described.set(result, b);
  }
  return b;
}

const READY = message('Z', Buffer.from('I'));
const PARSE_COMPLETE = message('1', Buffer.alloc(0));
const BIND_COMPLETE = message('2', Buffer.alloc(0));
const NO_DATA = message('n', Buffer.alloc(0));

export const TYPES = { TEXT, INT8 };

/** One fake connection; `answer(text)` says what a statement returns. */
export class FakePgStream extends Duplex {
  private pending: Buffer = Buffer.alloc(0);
  private started = false;
  private names = new Map<string, string>();
  private reply: Buffer[] = [];
  private described: CannedResult | undefined;

  constructor(private answer: (text: string) => CannedResult | undefined) {
    super();
  }

  connect(): this {
    setImmediate(() => this.emit('connect'));
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (error?: Error | null) => void): void {
    this.receive(chunk);
    done();
  }

  override _writev(chunks: { chunk: Buffer }[], done: (error?: Error | null) => void): void {
    for (const { chunk } of chunks) this.receive(chunk);
    done();
  }

  override _final(done: () => void): void {
    this.push(null);
    done();
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      if (!this.started) {
        if (this.pending.length < 4) return;
        const len = this.pending.readInt32BE(0);
        if (this.pending.length < len) return;
        this.pending = this.pending.subarray(len);
        this.started = true;
        const ok = message('R', int32(0));
        setImmediate(() => this.push(Buffer.concat([ok, READY])));
        continue;
      }
      if (this.pending.length < 5) return;
      const type = String.fromCharCode(this.pending[0] as number);
      const len = this.pending.readInt32BE(1);
      if (this.pending.length < len + 1) return;
      const body = this.pending.subarray(5, len + 1);
      this.pending = this.pending.subarray(len + 1);
      this.handle(type, body);
    }
  }

  private handle(type: string, body: Buffer): void {
    switch (type) {
      case 'P': {
        const nameEnd = body.indexOf(0);
        const name = body.toString('utf8', 0, nameEnd);
        const textEnd = body.indexOf(0, nameEnd + 1);
        this.names.set(name, body.toString('utf8', nameEnd + 1, textEnd));
        this.reply.push(PARSE_COMPLETE);
        return;
      }
      case 'B': {
        const portalEnd = body.indexOf(0);
        const nameEnd = body.indexOf(0, portalEnd + 1);
        const name = body.toString('utf8', portalEnd + 1, nameEnd);
        this.described = this.answer(this.names.get(name) ?? '');
        this.reply.push(BIND_COMPLETE);
        return;
      }
      case 'D':
        this.reply.push(this.described ? describe(this.described) : NO_DATA);
        return;
      case 'E':
        if (this.described) this.reply.push(dataRow(this.described.row()), message('C', cstring('SELECT 1')));
        else this.reply.push(message('C', cstring('SELECT 0')));
        return;
      case 'S': {
        const out = Buffer.concat([...this.reply, READY]);
        this.reply = [];
        setImmediate(() => this.push(out));
        return;
      }
      case 'X':
        this.push(null);
        return;
      default:
        // Q and the rest: answer an empty result.
        setImmediate(() => this.push(Buffer.concat([message('I', Buffer.alloc(0)), READY])));
    }
  }
}
