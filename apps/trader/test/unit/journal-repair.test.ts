import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTraderError } from '../../src/errors.js';
import { Journal } from '../../src/journal/journal.js';
import { repairJournal, verifyJournal, verifyJournalBytes } from '../../src/journal/journal-repair.js';
import { tempDirs } from '../temp-dir.js';

const tempDir = tempDirs('trader-journal-repair-');
const tmp = () => join(tempDir(), 'journal.jsonl');

/** Byte offset where line `n` (from 1) of the file starts, counted independently of the code under test. */
function offsetOfLine(path: string, n: number): number {
  const lines = readFileSync(path, 'utf8').split('\n');
  return lines.slice(0, n - 1).reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 0);
}

const line = (seq: number, type: string, data: unknown = {}, ts = 1) => `${JSON.stringify({ seq, ts, type, data })}\n`;

/**
 * What a second `npm start` on a running trader's data dir does: the second process replays the journal as it is,
 * then both append with their own idea of the next sequence number (and mint the same order ids).
 */
function twoWriterDamage(path: string): void {
  const first = Journal.open(path, { fsync: 'never' }).journal;
  first.append('session.start', { instanceId: 'trader-1', pid: 1, startedAt: 'x' });
  // Non-ASCII text before the break: offsets must count bytes, not characters.
  first.append('order.submitted', { clientOrderId: 'o-1', symbol: 'BTCUSDT', reason: 'café ✓ 🚀' });
  first.append('fill', { fillId: 'o-1-1', clientOrderId: 'o-1' });
  const second = Journal.open(path, { fsync: 'never' }).journal;
  for (let i = 2; i <= 4; i++) {
    first.append('order.submitted', { clientOrderId: `o-${i}` });
    second.append('order.submitted', { clientOrderId: `o-${i}` });
  }
  first.close();
  second.close();
}

describe('verifyJournal and repairJournal', () => {
  it('find the two-writer damage, back the file up, cut it there, and Journal.open replays exactly the kept entries', () => {
    const path = tmp();
    twoWriterDamage(path);
    const original = readFileSync(path);
    // Lines: 1-3 (first alone), 4 first's seq 4, 5 second's seq 4, ...: line 5 is the first broken one.
    let openError: unknown;
    try {
      Journal.open(path);
    } catch (e) {
      openError = e;
    }
    expect(isTraderError(openError) && openError.code).toBe('E_TRADER_JOURNAL');
    const message = (openError as Error).message;
    expect(message).toContain(`sequence 4 where 5 was expected (line 5, byte ${offsetOfLine(path, 5)})`);
    expect(message).toContain(`trader journal verify --journal ${path}`);
    expect(message).toContain(`trader journal repair --journal ${path}`);

    const report = verifyJournal(path);
    expect(report).toMatchObject({
      path,
      ok: false,
      entries: 4,
      lastSeq: 4,
      bytes: original.length,
      brokenLines: 5,
      firstBroken: { line: 5, byteOffset: offsetOfLine(path, 5), seq: 4, reason: 'sequence 4 where 5 was expected' },
    });
    expect(report.tornTail).toBeUndefined();
    expect(statSync(path).size).toBe(original.length); // verify changes nothing

    const repaired = repairJournal(path, { now: () => Date.parse('2026-05-01T12:34:56.789Z') });
    expect(repaired).toEqual({
      path,
      changed: true,
      backupPath: `${path}.broken-20260501T123456.789Z`,
      keptEntries: 4,
      cutEntries: 5,
      cutBytes: original.length - offsetOfLine(path, 5),
      firstBroken: report.firstBroken,
    });
    expect(readFileSync(repaired.backupPath as string).equals(original)).toBe(true);
    expect(statSync(path).size).toBe(offsetOfLine(path, 5));
    expect(verifyJournal(path)).toMatchObject({ ok: true, entries: 4, lastSeq: 4 });

    const { journal, recovery } = Journal.open(path, { fsync: 'never' });
    expect(recovery.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(recovery.entries.map((e) => (e.data as { clientOrderId?: string }).clientOrderId)).toEqual([
      undefined,
      'o-1',
      'o-1',
      'o-2',
    ]);
    expect(recovery.truncatedBytes).toBe(0);
    expect(journal.append('x', {}).seq).toBe(5);
    journal.close();
  });

  it('report a torn last line separately: the journal is fine and repair touches nothing', () => {
    const path = tmp();
    writeFileSync(path, line(1, 'a') + line(2, 'b'));
    const clean = statSync(path).size;
    appendFileSync(path, '{"seq":3,"ts":1,"type":"c","da');
    const report = verifyJournal(path);
    expect(report).toMatchObject({ ok: true, entries: 2, lastSeq: 2, bytes: clean + 30, brokenLines: 0 });
    expect(report.firstBroken).toBeUndefined();
    expect(report.tornTail).toEqual({ line: 3, byteOffset: clean, bytes: 30, reason: 'unterminated last line' });

    const repaired = repairJournal(path);
    expect(repaired).toMatchObject({ changed: false, backupPath: undefined, keptEntries: 2, cutEntries: 0 });
    expect(statSync(path).size).toBe(clean + 30);
    expect(readdirSync(join(path, '..'))).toEqual(['journal.jsonl']);

    // A terminated but garbled last line is torn too (Journal.open cuts it as well); so is a complete-looking
    // unterminated one.
    writeFileSync(path, `${line(1, 'a')}\u0000\u0000\n`);
    expect(verifyJournal(path).tornTail).toMatchObject({ line: 2, bytes: 3, reason: 'unparsable last line' });
    writeFileSync(path, line(1, 'a') + line(2, 'b').trimEnd());
    expect(verifyJournal(path)).toMatchObject({ ok: true, entries: 1, tornTail: { line: 2 } });
  });

  it('say an intact journal is ok and leave it alone', () => {
    const path = tmp();
    const { journal } = Journal.open(path, { fsync: 'never' });
    journal.append('order.submitted', { clientOrderId: 'a' });
    journal.append('fill', { fillId: 'a-1' });
    journal.append('fill', { fillId: 'a-2' });
    journal.close();
    const bytes = statSync(path).size;
    expect(verifyJournal(path)).toEqual({ path, ok: true, entries: 3, lastSeq: 3, bytes, brokenLines: 0 });
    expect(repairJournal(path)).toEqual({
      path,
      changed: false,
      backupPath: undefined,
      keptEntries: 3,
      cutEntries: 0,
      cutBytes: 0,
      firstBroken: undefined,
    });
    expect(readdirSync(join(path, '..'))).toEqual(['journal.jsonl']);
    writeFileSync(path, '');
    expect(verifyJournal(path)).toMatchObject({ ok: true, entries: 0, lastSeq: 0, bytes: 0 });
  });

  it('find a duplicate fill id, which Journal.open itself would replay, and cut there', () => {
    const path = tmp();
    writeFileSync(
      path,
      line(1, 'order.submitted', { clientOrderId: 'a' }) +
        line(2, 'fill', { fillId: 'a-1' }) +
        line(3, 'fill', { fillId: 'a-2' }) +
        line(4, 'fill', { fillId: 'a-1' }) +
        line(5, 'order.cancelled', { clientOrderId: 'a' }),
    );
    Journal.open(path, { fsync: 'never' }).journal.close(); // sequence-wise it is intact
    const report = verifyJournal(path);
    expect(report).toMatchObject({
      ok: false,
      entries: 3,
      lastSeq: 3,
      brokenLines: 2,
      firstBroken: {
        line: 4,
        byteOffset: offsetOfLine(path, 4),
        seq: 4,
        reason: 'duplicate fillId "a-1" (first on line 2)',
      },
    });
    const repaired = repairJournal(path);
    expect(repaired).toMatchObject({ changed: true, keptEntries: 3, cutEntries: 2 });
    expect(Journal.read(path).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('name every other kind of damage with its line, byte offset and sequence number', () => {
    const good = line(1, 'order.submitted', { clientOrderId: 'a' });
    const at = Buffer.byteLength(good);
    const check = (rest: string, reason: string, seq?: number) => {
      const r = verifyJournalBytes(Buffer.from(good + rest));
      expect(r.ok).toBe(false);
      expect(r.firstBroken).toEqual({ line: 2, byteOffset: at, reason, ...(seq === undefined ? {} : { seq }) });
    };
    check(`GARBAGE\n${line(2, 'b')}`, 'unparsable line');
    check(`\n${line(2, 'b')}`, 'unparsable line');
    check(`[1,2]\n${line(2, 'b')}`, 'not a JSON object');
    check(`{"ts":1,"type":"b"}\n${line(2, 'b')}`, 'no numeric "seq"');
    check(`{"seq":2,"ts":1}\n${line(3, 'b')}`, 'no "type"', 2);
    // On the last line, a line parseJournal does not take for an entry is a torn write it cuts itself.
    expect(verifyJournalBytes(Buffer.from(`${good}{"seq":2,"ts":1}\n`))).toMatchObject({
      ok: true,
      tornTail: { line: 2 },
    });
    check(`{"seq":2,"type":"b"}\n`, 'no numeric "ts"', 2);
    check(line(1, 'b'), 'sequence 1 where 2 was expected', 1); // duplicate
    check(line(3, 'b'), 'sequence 3 where 2 was expected', 3); // gap
    check(line(2.5, 'b'), '"seq" 2.5 is not a positive integer', 2.5);
    check(line(2, 'order.submitted', { clientOrderId: 'a' }), 'duplicate clientOrderId "a" (first on line 1)', 2);
    // A journal may start at any sequence number (parseJournal accepts that), just not go backwards from there.
    expect(verifyJournalBytes(Buffer.from(line(7, 'a') + line(8, 'b')))).toMatchObject({ ok: true, lastSeq: 8 });
    expect(verifyJournalBytes(Buffer.from(line(0, 'a'))).firstBroken?.reason).toBe('"seq" 0 is not a positive integer');
  });

  it('never overwrite an earlier backup, and report a journal that cannot be read', () => {
    const path = tmp();
    const now = () => Date.parse('2026-01-02T03:04:05.006Z');
    const broken = line(1, 'a') + line(1, 'b') + line(2, 'c');
    writeFileSync(path, broken);
    const first = repairJournal(path, { now });
    writeFileSync(path, broken);
    const second = repairJournal(path, { now });
    writeFileSync(path, broken);
    const third = repairJournal(path, { now });
    expect([first.backupPath, second.backupPath, third.backupPath]).toEqual([
      `${path}.broken-20260102T030405.006Z`,
      `${path}.broken-20260102T030405.006Z-1`,
      `${path}.broken-20260102T030405.006Z-2`,
    ]);
    for (const b of [first, second, third]) expect(readFileSync(b.backupPath as string, 'utf8')).toBe(broken);

    try {
      verifyJournal(join(path, '..', 'missing.jsonl'));
      throw new Error('should fail');
    } catch (e) {
      expect(isTraderError(e) && e.code).toBe('E_TRADER_JOURNAL');
      expect((e as Error).message).toMatch(/cannot read .*missing\.jsonl/);
    }
  });
});
