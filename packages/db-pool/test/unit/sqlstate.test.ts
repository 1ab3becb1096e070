import { describe, expect, it } from 'vitest';
import {
  isCanceledSqlState,
  isNotPrimarySqlState,
  isSerializationSqlState,
  isTransientSqlState,
  sqlStateOf,
} from '../../src/index.js';

describe('SQLSTATE classification', () => {
  it.each(['08000', '08006', '08P01', '40001', '40P01', '57P01', '57P02', '57P03', '53300'])('%s is transient', (s) => {
    expect(isTransientSqlState(s)).toBe(true);
  });
  it.each(['42601', '23505', '23503', '22P02', '42P01', '25006', '57014', undefined])('%s is not transient', (s) => {
    expect(isTransientSqlState(s)).toBe(false);
  });
  it.each(['25006', '57P01', '57P03', '08006', '08001'])('%s means not the primary', (s) => {
    expect(isNotPrimarySqlState(s)).toBe(true);
  });
  it.each(['40001', '23505', '42601', '57P02', undefined])('%s does not mean not-primary', (s) => {
    expect(isNotPrimarySqlState(s)).toBe(false);
  });
  it('serialization and cancel', () => {
    expect(isSerializationSqlState('40001')).toBe(true);
    expect(isSerializationSqlState('40P01')).toBe(true);
    expect(isSerializationSqlState('23505')).toBe(false);
    expect(isCanceledSqlState('57014')).toBe(true);
    expect(isCanceledSqlState('57P01')).toBe(false);
  });
  it('sqlStateOf reads pg error codes only', () => {
    expect(sqlStateOf({ code: '23505' })).toBe('23505');
    expect(sqlStateOf({ code: 'ECONNREFUSED' })).toBeUndefined();
    expect(sqlStateOf(new Error('x'))).toBeUndefined();
    expect(sqlStateOf(null)).toBeUndefined();
  });
});
