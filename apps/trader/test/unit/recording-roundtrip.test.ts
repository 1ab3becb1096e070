import { existsSync, mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { DataSink } from '../../src/model/data-client.js';
import type { BookEvent, BookSnapshot, MarketEvent } from '../../src/model/types.js';
import { MarketRecorder } from '../../src/recording/market-recorder.js';
import { type RecordedLine, recordingPath } from '../../src/recording/recording-format.js';
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

describe('MarketRecorder and the recording reader', () => {
  it('round-trips events, snapshots and gaps, per symbol and UTC day, merged back in receive order', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ dir, symbols: ['BTCUSDT', 'ETHUSDT'], flushIntervalMs: 10 });
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
      recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-06'),
      recordingPath(dir, 'binance', 'ETHUSDT', '2026-01-06'),
    ]);
    await rec.close();
    for (const [symbol, day] of [
      ['BTCUSDT', '2026-01-05'],
      ['BTCUSDT', '2026-01-06'],
      ['ETHUSDT', '2026-01-05'],
      ['ETHUSDT', '2026-01-06'],
    ] as const) {
      expect(existsSync(recordingPath(dir, 'binance', symbol, day)), `${symbol} ${day}`).toBe(true);
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
    const rec = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
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
    const rec = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
    for (let i = 0; i < 100; i++) rec.push({ t: DAY1 + i, x: DAY1 + i, ev: book('BTCUSDT', i, DAY1 + i) });
    await rec.flush();
    const intact = statSync(recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05')).size;
    for (let i = 100; i < 200; i++) rec.push({ t: DAY1 + i, x: DAY1 + i, ev: book('BTCUSDT', i, DAY1 + i) });
    await rec.close();
    const path = recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05');
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
      { path: join('binance', 'BTCUSDT', '2026-01-05.jsonl.gz'), droppedBytes: cuts[0]?.droppedBytes },
    ]);
  });

  it('writes one gzip member per flush (concatenated members decompress as one text)', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
    rec.push({ t: DAY1, x: DAY1, ev: trade('BTCUSDT', 1, DAY1) });
    await rec.flush();
    rec.push({ t: DAY1 + 1, x: DAY1 + 1, ev: trade('BTCUSDT', 2, DAY1 + 1) });
    await rec.close();
    const bytes = readFileSync(recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05'));
    let members = 0;
    for (let i = 0; i + 2 < bytes.length; i++)
      if (bytes[i] === 0x1f && bytes[i + 1] === 0x8b && bytes[i + 2] === 8) members++;
    expect(members).toBe(2);
    expect(gunzipSync(bytes).toString().trim().split('\n')).toHaveLength(2);
  });

  it('applies the time window and rejects bad input naming the field', async () => {
    const dir = tempDir();
    const rec = new MarketRecorder({ dir, symbols: ['BTCUSDT'] });
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
    expect(() => new MarketRecorder({ dir, symbols: [], flushIntervalMs: 1 })).toThrow(
      expect.objectContaining({ field: 'flushIntervalMs' }),
    );
    expect(() => new MarketRecorder({ dir, symbols: [], maxBuffered: 0 })).toThrow(
      expect.objectContaining({ field: 'maxBuffered' }),
    );
  });

  it('names the file and line of a bad line', async () => {
    const dir = tempDir();
    const path = recordingPath(dir, 'binance', 'BTCUSDT', '2026-01-05');
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
    const rec = new MarketRecorder({ dir, symbols: ['BTCUSDT'], maxBuffered: 3 });
    for (let i = 0; i < 5; i++) rec.push({ t: DAY1 + i, x: DAY1, ev: trade('BTCUSDT', i, DAY1) });
    await rec.close();
    expect(rec.stats()).toMatchObject({ recorded: 3, dropped: 2, written: 3 });
  });
});
