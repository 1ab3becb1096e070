import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMES, CHANNEL_PREFIXES, CHANNELS, isChannelName } from '../../src/index.js';

describe('the channel registry', () => {
  it('names every channel cryptoscalp:<prefix of its package>:<kebab-case event>', () => {
    for (const name of CHANNEL_NAMES) {
      const prefix = CHANNEL_PREFIXES[CHANNELS[name].package];
      expect(name).toMatch(new RegExp(`^cryptoscalp:${prefix}:[a-z]+(-[a-z]+)*$`));
    }
  });

  it('gives every package a distinct prefix and at least one channel', () => {
    expect(new Set(Object.values(CHANNEL_PREFIXES)).size).toBe(Object.keys(CHANNEL_PREFIXES).length);
    for (const pkg of Object.keys(CHANNEL_PREFIXES)) {
      expect(
        CHANNEL_NAMES.some((name) => CHANNELS[name].package === pkg),
        pkg,
      ).toBe(true);
    }
  });

  it('tells registered names from others', () => {
    expect(isChannelName('cryptoscalp:cache:bus')).toBe(true);
    expect(isChannelName('cryptoscalp:db-pool:query')).toBe(false);
    expect(isChannelName('toString')).toBe(false);
  });
});
