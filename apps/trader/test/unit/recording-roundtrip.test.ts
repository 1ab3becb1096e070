import { existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { DataSink } from '../../src/model/data-client.js';
import type { BookEvent, BookSnapshot, MarketEvent, TradeEvent } from '../../src/model/types.js';
import { cutTornTail, MarketRecorder } from '../../src/recording/market-recorder.js';
import { BLOCK_HEADER_BYTES, BlockEncoder } from '../../src/recording/recording-codec.js';
import { FORMAT_EXTENSIONS, type RecordedLine, recordingPath } from '../../src/recording/recording-format.js';
import { readRecordingFile, replayRecording, type TruncatedFile } from '../../src/recording/recording-reader.js';
import { tempDirs } from '../temp-dir.js';

const tempDir = tempDirs('recording-');
const DAY1 = Date.parse('2026-01-05T23:59:59Z');

function book(symbol: string, seq: number, exchTs: number): BookEvent {
  return {
    kind: 'book',
    venue: 'binance',
    symbol,
    snapshot: false,
    bids: [[100 - seq / 100, seq]],
    asks: [[101 + seq / 100, 0]],
    firstSeq: seq,
    lastSeq: seq,
    prevSeq: seq - 1,
    exchTs,
  };
}

function trade(symbol: string, id: number, exchTs: number): MarketEvent {
  return {
    kind: 'trade',
    venue: 'binance',
    symbol,
    price: 100.5,
    qty: 0.25,
    side: 'sell',
    tradeId: String(id),
    exchTs,
  };
}

async function readAll(dir: string): Promise<RecordedLine[]> {
  const out: RecordedLine[] = [];
  await replayRecording(dir, (l) => out.push(l));
  return out;
}

describe.each(['binary', 'jsonl'] as const)('MarketRecorder and the recording reader (%s)', (format) => {
  it('round-trips events, snapshots and gaps, per symbol and UTC day, merged back in receive order', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ format, dir, symbols: ['BTCUSDT', 'ETHUSDT'], flushIntervalMs: 10 });
    const snap: BookSnapshot = { lastUpdateId: 7, bids: [[99, 1]], asks: [[102, 2]] };
    const lines: RecordedLine[] = [
      { t: DAY1 + 0.001, venue: 'binance', symbol: 'BTCUSDT', snap, force: false },
      { t: DAY1 + 1.5, x: DAY1, ev: book('BTCUSDT', 8, DAY1) },
      { t: DAY1 + 1.5, x: DAY1, ev: book('ETHUSDT', 3, DAY1) },
      { t: DAY1 + 2.25, x: DAY1 + 2, ev: trade('ETHUSDT', 1, DAY1 + 2) },
    ];
    for (const l of lines) rec.push(l);
    await rec.flush();
    // Over midnight: the next lines go to the next day's files, and the first day's files are closed.
    const day2 = DAY1 + 1500;
    const later: RecordedLine[] = [
      { t: day2, x: day2 - 1, ev: book('BTCUSDT', 9, day2 - 1) },
      { t: day2 + 1, ev: { kind: 'gap', venue: 'binance', reason: 'disconnected' } },
      { t: day2 + 2, x: day2 + 1, ev: trade('BTCUSDT', 2, day2 + 1) },
    ];
    for (const l of later) rec.push(l);
    await rec.flush();
    expect(rec.openFiles().sort()).toEqual([
      recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-06', format),
      recordingPath(dir, 'binance', 'ETHUSDT', '2026-01-06', format),
    ]);
    await rec.close();
    for (const [symbol, day] of [
      ['BTCUSDT', '2026-01-05'],
      ['BTCUSDT', '2026-01-06'],
      ['ETHUSDT', '2026-01-05'],
      ['ETHUSDT', '2026-01-06'],
    ] as const) {
      expect(existsSync(recordingPath(dir, 'binance', symbol, day, format)), `${symbol} ${day}`).toBe(true);
    }
    const back = await readAll(dir);
    // The venue-wide gap is written into each symbol's file, naming the symbol; ties keep symbol name order.
    const gap = (symbol: string): RecordedLine => ({
      t: day2 + 1,
      ev: { kind: 'gap', venue: 'binance', reason: 'disconnected', symbol },
    });
    expect(back).toEqual([...lines, later[0], gap('BTCUSDT'), gap('ETHUSDT'), later[2]]);
    expect(rec.stats()).toMatchObject({ recorded: 7, written: 8, dropped: 0, files: 4, lastError: undefined });
  });

  it('taps a data sink: records what it passes on, with the receive stamp as epoch time', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ format, dir, symbols: ['BTCUSDT'] });
    const seen: MarketEvent[] = [];
    const inner: DataSink = { onEvent: (ev) => seen.push(ev), onSnapshot: () => false };
    const sink = rec.tap(inner, 'binance');
    const ev = book('BTCUSDT', 1, Date.now());
    const recvTs = performance.now();
    sink.onEvent(ev, recvTs);
    expect(sink.onSnapshot('BTCUSDT', { lastUpdateId: 1, bids: [], asks: [] }, true)).toBe(false);
    await rec.close();
    expect(seen).toEqual([ev]);
    const back = await readAll(dir);
    expect(back[0]).toEqual({ t: expect.closeTo(performance.timeOrigin + recvTs, 3), x: ev.exchTs, ev });
    expect(back[1]).toMatchObject({ venue: 'binance', symbol: 'BTCUSDT', force: true });
  });

  it('reads a file cut mid-member up to its last complete line and reports the cut', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ format, dir, symbols: ['BTCUSDT'] });
    for (let i = 0; i < 100; i++) rec.push({ t: DAY1 + i, x: DAY1 + i, ev: book('BTCUSDT', i, DAY1 + i) });
    await rec.flush();
    const intact = statSync(recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05', format)).size;
    for (let i = 100; i < 200; i++) rec.push({ t: DAY1 + i, x: DAY1 + i, ev: book('BTCUSDT', i, DAY1 + i) });
    await rec.close();
    const path = recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05', format);
    const full = statSync(path).size;
    // A crash mid-append: the second member is cut short.
    truncateSync(path, intact + Math.floor((full - intact) / 2));
    const cuts: TruncatedFile[] = [];
    const got: RecordedLine[] = [];
    for await (const batch of readRecordingFile(path, (c) => cuts.push(c))) got.push(...batch);
    expect(got.length).toBeGreaterThanOrEqual(100);
    expect(got.length).toBeLessThan(200);
    expect(got.map((l) => ('ev' in l && l.ev.kind === 'book' ? l.ev.lastSeq : -1))).toEqual(
      Array.from({ length: got.length }, (_, i) => i),
    );
    expect(cuts).toHaveLength(1);
    expect(cuts[0]?.path).toBe(path);
    const report = await replayRecording(dir, () => {});
    expect(report.truncated).toEqual([
      {
        path: join('binance', 'BTCUSDT', `2026-01-05${FORMAT_EXTENSIONS[format]}`),
        droppedBytes: cuts[0]?.droppedBytes,
      },
    ]);
  });

  it.runIf(format === 'jsonl')(
    'writes one gzip member per flush (concatenated members decompress as one text)',
    async () => {
      const dir = tempDir();
      const rec = new MarketRecorder({ format, dir, symbols: ['BTCUSDT'] });
      rec.push({ t: DAY1, x: DAY1, ev: trade('BTCUSDT', 1, DAY1) });
      await rec.flush();
      rec.push({ t: DAY1 + 1, x: DAY1 + 1, ev: trade('BTCUSDT', 2, DAY1 + 1) });
      await rec.close();
      const bytes = readFileSync(recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05', format));
      let members = 0;
      for (let i = 0; i + 2 < bytes.length; i++)
        if (bytes[i] === 0x1f && bytes[i + 1] === 0x8b && bytes[i + 2] === 8) members++;
      expect(members).toBe(2);
      expect(gunzipSync(bytes).toString().trim().split('\n')).toHaveLength(2);
    },
  );

  it('applies the time window and rejects bad input naming the field', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ format, dir, symbols: ['BTCUSDT'] });
    for (let i = 0; i < 10; i++) rec.push({ t: DAY1 + i * 1000, x: DAY1, ev: trade('BTCUSDT', i, DAY1) });
    await rec.close();
    const got: number[] = [];
    const report = await replayRecording(dir, (l) => got.push(l.t), { from: DAY1 + 2000, to: DAY1 + 5000 });
    expect(got).toEqual([DAY1 + 2000, DAY1 + 3000, DAY1 + 4000]);
    expect(report).toMatchObject({ lines: 3, firstT: DAY1 + 2000, lastT: DAY1 + 4000 });
    await expect(replayRecording(join(dir, 'nope'), () => {})).rejects.toMatchObject({ field: 'data' });
    await expect(replayRecording(dir, () => {}, { from: Date.parse('2027-01-01') })).rejects.toMatchObject({
      field: 'data',
    });
    expect(() => new MarketRecorder({ format, dir, symbols: [], flushIntervalMs: 1 })).toThrow(
      expect.objectContaining({ field: 'flushIntervalMs' }),
    );
    expect(() => new MarketRecorder({ format, dir, symbols: [], maxBuffered: 0 })).toThrow(
      expect.objectContaining({ field: 'maxBuffered' }),
    );
  });

  it.runIf(format === 'jsonl')('names the file and line of a bad line', async () => {
    const dir = tempDir();
    const path = recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05', format);
    mkdirSync(dirname(path), { recursive: true });
    const good = JSON.stringify({ t: DAY1, x: DAY1, ev: trade('BTCUSDT', 1, DAY1) });
    writeFileSync(path, gzipSync(`${good}\n${good}\n{"t":1,"ev":{"kind":"trade"}}\n`));
    await expect(replayRecording(dir, () => {})).rejects.toMatchObject({
      field: 'recording',
      message: `${path}:3: trade event without symbol`,
    });
  });

  it('drops (and counts) events beyond the buffer bound instead of growing without limit', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ format, dir, symbols: ['BTCUSDT'], maxBuffered: 3 });
    for (let i = 0; i < 5; i++) rec.push({ t: DAY1 + i, x: DAY1, ev: trade('BTCUSDT', i, DAY1) });
    await rec.close();
    expect(rec.stats()).toMatchObject({ recorded: 3, dropped: 2, written: 3 });
  });
});

describe('the binary recording format', () => {
  it('writes one versioned block per flush and round-trips exactly what it cannot pack as JSON rows', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
    const odd: RecordedLine[] = [
      { t: DAY1, x: DAY1, ev: { ...(trade('BTCUSDT', 1, DAY1) as TradeEvent), tradeId: 'abc-1' } },
      { t: DAY1 + 1, x: DAY1, ev: { ...(trade('BTCUSDT', 2, DAY1) as TradeEvent), price: 0.1 + 0.2 } },
      { t: DAY1 + 1.0004, x: DAY1, ev: trade('BTCUSDT', 3, DAY1) }, // not a whole microsecond
      { t: DAY1 + 2, x: DAY1 + 1, ev: { ...book('BTCUSDT', 4, DAY1 + 1), snapshot: true } },
      { t: DAY1 + 3, x: DAY1 + 2, ev: { ...book('BTCUSDT', 5, DAY1 + 2), prevSeq: undefined } },
      { t: DAY1 + 4, ev: { kind: 'gap', venue: 'binance', symbol: 'BTCUSDT', reason: 'checksum' } },
      { t: DAY1 + 5, x: DAY1 + 4, ev: book('BTCUSDT', 6, DAY1 + 4) },
      { t: DAY1 + 5, x: DAY1 + 4, ev: trade('BTCUSDT', 2 ** 40, DAY1 + 4) },
      { t: DAY1 + 6, x: DAY1 + 4.5, ev: { ...(trade('BTCUSDT', 7, DAY1 + 4.5) as TradeEvent), qty: 123456.12345678 } },
    ];
    for (const l of odd.slice(0, 5)) rec.push(l);
    await rec.flush();
    for (const l of odd.slice(5)) rec.push(l);
    await rec.close();
    const path = recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05');
    const bytes = readFileSync(path);
    expect(bytes.subarray(0, 4).toString()).toBe('CSRB');
    expect(bytes[4]).toBe(1);
    const second = BLOCK_HEADER_BYTES + bytes.readUInt32LE(8);
    expect(bytes.subarray(second, second + 4).toString()).toBe('CSRB');
    expect(second + BLOCK_HEADER_BYTES + bytes.readUInt32LE(second + 8)).toBe(bytes.length);
    // JSON.stringify drops the undefined prevSeq, as the JSON lines format does.
    expect(await readAll(dir)).toEqual(JSON.parse(JSON.stringify(odd)));
    // Which lines went in as rows: the exact ones; the rest as JSON.
    const enc = new BlockEncoder();
    for (const l of odd) enc.add(l);
    expect(enc.jsonLines).toBe(6);
  });

  it('a recorder reopening a file with a torn last block cuts it before appending', async () => {
    const dir = tempDir();
    const first = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
    for (let i = 0; i < 50; i++) first.push({ t: DAY1 + i, x: DAY1 + i, ev: book('BTCUSDT', i, DAY1 + i) });
    await first.flush();
    for (let i = 50; i < 100; i++) first.push({ t: DAY1 + i, x: DAY1 + i, ev: book('BTCUSDT', i, DAY1 + i) });
    await first.close();
    const path = recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05');
    truncateSync(path, statSync(path).size - 7);
    const next = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
    next.push({ t: DAY1 + 200, x: DAY1 + 200, ev: book('BTCUSDT', 200, DAY1 + 200) });
    await next.close();
    const got: number[] = [];
    const report = await replayRecording(dir, (l) => got.push('ev' in l && l.ev.kind === 'book' ? l.ev.lastSeq : -1));
    expect(report.truncated).toEqual([]);
    expect(got).toEqual([...Array.from({ length: 50 }, (_, i) => i), 200]);
    expect(await cutTornTail(path)).toBe(0);
    expect(await cutTornTail(join(dir, 'missing.csrb'))).toBe(0);
  });

  it('names the file and block of a damaged block, and of a file that is not a recording', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
    for (let i = 0; i < 20; i++) rec.push({ t: DAY1 + i, x: DAY1, ev: trade('BTCUSDT', i, DAY1) });
    await rec.close();
    const path = recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05');
    const bytes = readFileSync(path);
    bytes[BLOCK_HEADER_BYTES + 8] = (bytes[BLOCK_HEADER_BYTES + 8] as number) ^ 0xff;
    writeFileSync(path, bytes);
    await expect(replayRecording(dir, () => {})).rejects.toMatchObject({
      field: 'recording',
      message: expect.stringContaining(`${path} block at byte 0:`),
    });
    writeFileSync(path, Buffer.from('this is not a recording block at all'));
    await expect(replayRecording(dir, () => {})).rejects.toMatchObject({
      message: `${path} block at byte 0: not a recording block (no CSRB magic)`,
    });
    expect(() => new MarketRecorder({ dir, symbols: [], format: 'csv' as 'binary' })).toThrow(
      expect.objectContaining({ field: 'format' }),
    );
  });

  it('a day held in both formats (a recorder upgraded that day) reads the JSON lines file first', async () => {
    const dir = tempDir();
    const old = new MarketRecorder({ dir, symbols: ['BTCUSDT'], format: 'jsonl' });
    old.push({ t: DAY1, x: DAY1, ev: trade('BTCUSDT', 1, DAY1) });
    await old.close();
    const now = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
    now.push({ t: DAY1 + 1, x: DAY1 + 1, ev: trade('BTCUSDT', 2, DAY1 + 1) });
    await now.close();
    const got: string[] = [];
    const report = await replayRecording(dir, (l) => got.push('ev' in l && l.ev.kind === 'trade' ? l.ev.tradeId : ''));
    expect(report.files).toEqual([
      join('binance', 'BTCUSDT', '2026-01-05.jsonl.gz'),
      join('binance', 'BTCUSDT', '2026-01-05.csrb'),
    ]);
    expect(got).toEqual(['1', '2']);
  });
});
