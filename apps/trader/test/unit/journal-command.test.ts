import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type JournalCommandIo, runJournalCommand } from '../../src/cli/journal-command.js';
import { acquireDataDirLock } from '../../src/journal/data-dir-lock.js';
import type { JournalVerifyReport } from '../../src/journal/journal-repair.js';
import { tempDirs } from '../temp-dir.js';

const tmp = tempDirs('trader-journal-cli-');

const entry = (seq: number, type = 'x', data: unknown = {}) => `${JSON.stringify({ seq, ts: 1, type, data })}\n`;
const GOOD = entry(1) + entry(2) + entry(3);
// The two-writer damage: sequence 2 again on line 3.
const BROKEN = entry(1) + entry(2) + entry(2) + entry(3) + entry(3);

/** A data dir holding a journal with `content`. */
function dataDir(content: string): { dir: string; journal: string } {
  const dir = tmp();
  const journal = join(dir, 'journal.jsonl');
  writeFileSync(journal, content);
  return { dir, journal };
}

/** Collects what the command prints; `extra` sets interactivity and answers. */
function capture(extra: Partial<JournalCommandIo> = {}): { io: JournalCommandIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l), ...extra }, out, err };
}

describe('trader journal verify', () => {
  it('exits 0 on a good journal and says how many entries it holds', async () => {
    const { dir, journal } = dataDir(`${GOOD}{"seq":4,`);
    const c = capture();
    expect(await runJournalCommand(['verify', '--data-dir', dir], c.io)).toBe(0);
    expect(c.out[0]).toBe(`journal ok: ${journal}: 3 entries (last seq 3), ${Buffer.byteLength(GOOD) + 9} bytes`);
    expect(c.out[1]).toContain('its last line (line 4, 9 bytes at byte');
    expect(c.out[1]).toContain('the trader drops it on its next start');
    expect(c.err).toEqual([]);
  });

  it('exits 1 on a broken journal, naming the first broken entry and the repair command', async () => {
    const { journal } = dataDir(BROKEN);
    const c = capture();
    // A leading `journal` (the whole `trader journal ...` argv) is accepted too.
    expect(await runJournalCommand(['journal', 'verify', '--journal', journal], c.io)).toBe(1);
    const at = Buffer.byteLength(entry(1) + entry(2));
    expect(c.out).toEqual([
      `journal BROKEN: ${journal}`,
      `  first broken entry: line 3, byte ${at} (seq 2): sequence 2 where 3 was expected`,
      `  2 good entries before it (last seq 2); 3 lines (${Buffer.byteLength(BROKEN) - at} bytes) from it to the end of the file`,
      `  to cut it there (a backup of the whole file is kept): trader journal repair --journal ${journal}`,
    ]);
    expect(readFileSync(journal, 'utf8')).toBe(BROKEN);
  });

  it('prints the report as JSON with --json', async () => {
    const { journal } = dataDir(BROKEN);
    const c = capture();
    expect(await runJournalCommand(['verify', `--journal=${journal}`, '--json'], c.io)).toBe(1);
    const report = JSON.parse(c.out.join('\n')) as JournalVerifyReport;
    expect(report).toMatchObject({ path: journal, ok: false, entries: 2, firstBroken: { line: 3, seq: 2 } });
    const good = dataDir(GOOD);
    const g = capture();
    expect(await runJournalCommand(['verify', '--journal', good.journal, '--json'], g.io)).toBe(0);
    expect(JSON.parse(g.out.join('\n'))).toMatchObject({ ok: true, entries: 3, lastSeq: 3 });
  });

  it('finds the journal where the trader would: TRADER_DATA_DIR, TRADER_JOURNAL_PATH', async () => {
    const { dir, journal } = dataDir(GOOD);
    const c = capture({ env: { TRADER_DATA_DIR: dir } });
    expect(await runJournalCommand(['verify'], c.io)).toBe(0);
    expect(c.out[0]).toContain(`journal ok: ${journal}:`);
    const other = dataDir(BROKEN);
    const d = capture({ env: { TRADER_DATA_DIR: dir, TRADER_JOURNAL_PATH: other.journal } });
    expect(await runJournalCommand(['verify'], d.io)).toBe(1);
    expect(d.out[0]).toBe(`journal BROKEN: ${other.journal}`);
    // The journal is outside the data dir, so the repair hint names the data dir whose lock guards it.
    expect(d.out.at(-1)).toContain(`--journal ${other.journal} --data-dir ${dir}`);
  });

  it('exits 2 on usage and configuration errors, 1 when there is no journal', async () => {
    const cases: string[][] = [
      [],
      ['check'],
      ['verify', '--yes'],
      ['verify', '--data-dir'],
      ['verify', '--json=1'],
      ['repair', '--json'],
      ['verify', 'extra'],
    ];
    for (const argv of cases) {
      const c = capture();
      expect(await runJournalCommand(argv, c.io), argv.join(' ')).toBe(2);
      expect(c.err.at(-1)).toContain('usage: trader journal verify');
    }
    const bad = capture({ env: { TRADER_NO_SUCH_SETTING: '1' } });
    expect(await runJournalCommand(['verify'], bad.io)).toBe(2);
    expect(bad.err[0]).toContain('configuration error');
    const help = capture();
    expect(await runJournalCommand(['--help'], help.io)).toBe(0);
    expect(help.out[0]).toContain('usage: trader journal');
    const missing = capture();
    const dir = tmp();
    expect(await runJournalCommand(['verify', '--data-dir', dir], missing.io)).toBe(1);
    expect(missing.err).toEqual([`journal verify: no journal at ${join(dir, 'journal.jsonl')}`]);
  });
});

describe('trader journal repair', () => {
  it('with --yes backs the journal up, cuts it at the first broken entry, and releases the data dir', async () => {
    const { dir, journal } = dataDir(BROKEN);
    const c = capture();
    expect(await runJournalCommand(['repair', '--data-dir', dir, '--yes'], c.io)).toBe(0);
    expect(c.out[0]).toBe(`journal BROKEN: ${journal}`);
    expect(c.out).toContain(
      `journal repaired: ${journal}: kept 2 entries, cut 3 lines (${Buffer.byteLength(BROKEN) - Buffer.byteLength(entry(1) + entry(2))} bytes)`,
    );
    expect(readFileSync(journal, 'utf8')).toBe(entry(1) + entry(2));
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(2); // journal + backup; the lock is gone
    expect(readFileSync(join(dir, files[1] as string), 'utf8')).toBe(BROKEN);
    expect(c.out.at(-1)).toBe(`  backup of the whole file as it was: ${join(dir, files[1] as string)}`);

    const again = capture();
    expect(await runJournalCommand(['repair', '--data-dir', dir, '--yes'], again.io)).toBe(0);
    expect(again.out[0]).toContain('nothing to repair, nothing changed');
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('without --yes asks on a terminal, and without one changes nothing', async () => {
    const { dir, journal } = dataDir(BROKEN);
    const noTty = capture({ interactive: false });
    expect(await runJournalCommand(['repair', '--data-dir', dir], noTty.io)).toBe(1);
    expect(noTty.err).toEqual([
      'journal repair: nothing changed: without a terminal to ask on, pass --yes to cut the journal',
    ]);
    const questions: string[] = [];
    const ask = async (q: string) => {
      questions.push(q);
      return 'n';
    };
    const declined = capture({ interactive: true, ask });
    expect(await runJournalCommand(['repair', '--data-dir', dir], declined.io)).toBe(1);
    expect(questions).toEqual(['Cut the journal at line 3? A backup of the whole file is written first. [y/N] ']);
    expect(declined.out.at(-1)).toBe('journal repair: nothing changed');
    expect(readFileSync(journal, 'utf8')).toBe(BROKEN);
    expect(readdirSync(dir)).toEqual(['journal.jsonl']);

    const accepted = capture({ interactive: true, ask: async () => 'yes' });
    expect(await runJournalCommand(['repair', '--journal', journal], accepted.io)).toBe(0);
    expect(readFileSync(journal, 'utf8')).toBe(entry(1) + entry(2));
  });

  it('refuses while the data dir is locked by a live process', async () => {
    const { dir, journal } = dataDir(BROKEN);
    // This test process is as live as any: the lock names it (the cross-process case is in the integration tests).
    const lock = acquireDataDirLock(dir);
    try {
      const c = capture();
      expect(await runJournalCommand(['repair', '--journal', journal, '--yes'], c.io)).toBe(1);
      expect(c.err[0]).toContain(`journal repair: refused: data dir ${dir} is in use by pid ${process.pid}`);
      expect(readFileSync(journal, 'utf8')).toBe(BROKEN);
    } finally {
      lock.release();
    }
  });
});
