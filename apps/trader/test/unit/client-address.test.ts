import { describe, expect, it } from 'vitest';
import { clientAddressKey } from '../../src/http/client-address.js';

describe('clientAddressKey (rate limits, connection cap, auth.failure throttle)', () => {
  it('keeps IPv4 as is and groups IPv6 by its /64', () => {
    expect(clientAddressKey('203.0.113.7')).toBe('203.0.113.7');
    const a = clientAddressKey('2001:db8:1:2:aaaa::1');
    const b = clientAddressKey('2001:db8:1:2:ffff:ffff:ffff:ffff');
    const other = clientAddressKey('2001:db8:1:3::1');
    expect(a).toBe(b);
    expect(a).not.toBe(other);
    expect(a).not.toBe('2001:db8:1:2:aaaa::1');
  });
});
