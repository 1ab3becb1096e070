import { describe, expect, it } from 'vitest';

describe('ioredis under test', () => {
  it('is the major that CRYPTOSCALP_IOREDIS selects (5 by default, 6 through the ioredis6 alias)', async () => {
    const { default: pkg } = (await import('ioredis/package.json', { with: { type: 'json' } })) as {
      default: { version: string };
    };
    expect(pkg.version.split('.')[0]).toBe(process.env.CRYPTOSCALP_IOREDIS === '6' ? '6' : '5');
  });
});
