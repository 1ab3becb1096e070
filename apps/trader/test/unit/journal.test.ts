import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isTraderError } from '../../src/errors.js';
import { Journal, parseJournal } from '../../src/journal/journal.js';
import { tempDirs } from '../temp-dir.js';

const tempDir = tempDirs('trader-journal-');
const tmp = () => join(tempDir(), 'sub', 'journal.jsonl');

describe('Journal', () => {
  it('appends numbered JSON lines and replays them on open', () => {
    const path = tmp();
    const { journal, recovery } = Journal.open(path, { fsync: 'always' });
    expect(recovery).toEqual({ entries: [], truncatedBytes: 0, segments: 0 });
    const e1 = journal.append('order.submitted', { clientOrderId: 'a' }, 1000);
    journal.append('fill', { fillId: 'a-1' });
    expect(e1).toEqual({ seq: 1, ts: 1000, type: 'order.submitted', data: { clientOrderId: 'a' } });
    expect(journal.syncs).toBe(2); // fsync: always
    // Written before append returns: another reader sees it at once.
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(2);
    journal.close();
    journal.close();
    expect(() => journal.append('x', {})).toThrow(/closed/);
    const again = Journal.open(path, { fsync: 'never' });
    expect(again.recovery.entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(again.journal.append('x', {}).seq).toBe(3);
    expect(again.journal.syncs).toBe(0);
    again.journal.close();
    expect(Journal.read(path, 1).map((e) => e.seq)).toEqual([2, 3]);
    expect(Journal.read(join(path, '..', 'missing.jsonl'))).toEqual([]);
  });

  it('cuts a torn last line (unterminated or garbled) and continues the sequence', () => {
    const path = tmp();
    const { journal } = Journal.open(path);
    journal.append('a', { n: 1 });
    journal.append('b', { n: 2 });
    journal.close();
    const clean = statSync(path).size;
    appendFileSync(path, '{"seq":3,"ts":1,"type":"c","da');
    const r = Journal.open(path, { fsync: 'interval', fsyncIntervalMs: 10 });
    expect(r.recovery.entries).toHaveLength(2);
    expect(r.recovery.truncatedBytes).toBe(30);
    expect(statSync(path).size).toBe(clean);
    expect(r.journal.append('c', {}).seq).toBe(3);
    r.journal.close();
    // A complete-looking but unterminated last line is also torn: the write did not finish.
    appendFileSync(path, '{"seq":4,"ts":1,"type":"d","data":{}}');
    const r2 = Journal.open(path);
    expect(r2.recovery.entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    r2.journal.close();
    // A garbled but terminated final line.
    appendFileSync(path, '\u0000\u0000\u0000\n');
    const r3 = Journal.open(path);
    expect(r3.recovery.entries).toHaveLength(3);
    expect(r3.recovery.truncatedBytes).toBe(4);
    r3.journal.close();
  });

  it('refuses corruption in the middle and holes in the sequence', () => {
    const corrupt = tmp();
    const { journal } = Journal.open(corrupt);
    journal.close();
    writeFileSync(corrupt, '{"seq":1,"ts":1,"type":"a","data":{}}\nGARBAGE\n{"seq":2,"ts":1,"type":"b","data":{}}\n');
    try {
      Journal.open(corrupt);
      throw new Error('should fail');
    } catch (e) {
      expect(isTraderError(e) && e.code).toBe('E_TRADER_JOURNAL');
    }
    expect(() =>
      parseJournal('{"seq":1,"ts":1,"type":"a","data":{}}\n{"seq":3,"ts":1,"type":"b","data":{}}\n'),
    ).toThrow(/sequence 3 where 2/);
    expect(parseJournal('').entries).toEqual([]);
    expect(() => Journal.open(tmp(), { fsync: 'sometimes' as 'never' })).toThrow(/fsync/);
  });

  it('fsyncs on the interval only when something was written', async () => {
    const { journal } = Journal.open(tmp(), { fsync: 'interval', fsyncIntervalMs: 5 });
    journal.append('a', {});
    await new Promise((r) => setTimeout(r, 50));
    expect(journal.syncs).toBe(1);
    journal.sync();
    expect(journal.syncs).toBe(1);
    journal.close();
  });
});
