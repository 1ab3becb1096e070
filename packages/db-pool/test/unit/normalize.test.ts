import { describe, expect, it } from 'vitest';
import { normalizeStatement } from '../../src/index.js';

describe('normalizeStatement', () => {
  it.each([
    ['select * from t where id = 42', 'select * from t where id = ?'],
    ["select * from t where name = 'o''brien' and x = $1", 'select * from t where name = ? and x = ?'],
    ['select  *\n from   t', 'select * from t'],
    ['select * from t where id in (1, 2, 3)', 'select * from t where id in (...)'],
    ['select * from t where id IN ($1,$2,$3,$4)', 'select * from t where id IN (...)'],
    ['insert into t (a, b) values ($1, $2), ($3, $4)', 'insert into t (a, b) values (...)'],
    ['select 1.5e3, -7 -- comment', 'select ?, ?'],
    ['select /* hint */ col1 from t2', 'select col1 from t2'],
    ['select $$ lit $$, $tag$x$tag$', 'select ?, ?'],
    ["select E'\\n'", 'select ?'],
  ])('%s', (input, expected) => {
    expect(normalizeStatement(input)).toBe(expected);
  });

  it('keeps identifiers with digits', () => {
    expect(normalizeStatement('select col1 from trades_2024 where t1.id = 3')).toBe(
      'select col1 from trades_2024 where t1.id = ?',
    );
  });

  it('maps statements differing only in literals to the same key', () => {
    expect(normalizeStatement("select * from o where sym = 'BTC' and qty > 1")).toBe(
      normalizeStatement("select * from o where sym = 'ETH' and qty > 250"),
    );
  });
});
