import { describe, expect, it } from 'vitest';
import { parseClientRequest } from '../../src/internal/hub-protocol.js';
import { HubTopic } from '../../src/internal/hub-topic.js';
import { isAuthRejection, statusText, toUpgradeRefusal } from '../../src/internal/upgrade-refusal.js';

const parse = (value: unknown, binary = false) =>
  parseClientRequest(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), binary);

describe('hub client protocol parser', () => {
  it('accepts the documented requests', () => {
    expect(parse({ op: 'subscribe', topic: 't', id: 1 })).toEqual({
      op: 'subscribe',
      topic: 't',
      offset: undefined,
      epoch: undefined,
      id: 1,
    });
    expect(parse({ op: 'subscribe', topic: 't', offset: 4, epoch: 'e' })).toMatchObject({ offset: 4, epoch: 'e' });
    expect(parse({ op: 'unsubscribe', topic: 't' })).toEqual({ op: 'unsubscribe', topic: 't', id: undefined });
    expect(parse({ op: 'ping', id: 'x' })).toEqual({ op: 'ping', id: 'x' });
  });

  it.each([
    ['{', 'invalid JSON'],
    [[1], 'expected a JSON object'],
    [{ op: 'publish' }, 'unknown op'],
    [{ op: 'subscribe' }, 'topic must be'],
    [{ op: 'subscribe', topic: 'x'.repeat(300) }, 'topic must be'],
    [{ op: 'subscribe', topic: 't', offset: -1 }, 'offset must be'],
    [{ op: 'subscribe', topic: 't', offset: 1.5 }, 'offset must be'],
    [{ op: 'subscribe', topic: 't', epoch: 5 }, 'epoch must be'],
  ])('rejects %j', (value, message) => {
    expect(parse(value)).toContain(message);
  });

  it('rejects binary frames', () => {
    expect(parse({ op: 'ping' }, true)).toContain('binary');
  });
});

describe('HubTopic history', () => {
  it('keeps the last N frames, serialized once with topic, epoch and offset', () => {
    const topic = new HubTopic('a"b', 3);
    for (let i = 1; i <= 5; i++) topic.append(JSON.stringify({ i }));
    expect(topic.offset).toBe(5);
    expect(topic.oldestOffset).toBe(3);
    expect(topic.historyLength).toBe(3);
    const frames = topic.framesAfter(2, topic.epoch)?.map((f) => JSON.parse(f.toString()));
    expect(frames).toEqual(
      [3, 4, 5].map((i) => ({ type: 'message', topic: 'a"b', epoch: topic.epoch, offset: i, data: { i } })),
    );
    expect(topic.framesAfter(5, topic.epoch)).toEqual([]);
    expect(topic.framesAfter(1, topic.epoch)).toBeUndefined(); // older than history
    expect(topic.framesAfter(6, topic.epoch)).toBeUndefined(); // in the future
    expect(topic.framesAfter(4, 'other')).toBeUndefined(); // another epoch
  });

  it('without history only an up-to-date offset resumes', () => {
    const topic = new HubTopic('t', 0);
    topic.append('1');
    topic.append('2');
    expect(topic.framesAfter(2, topic.epoch)).toEqual([]);
    expect(topic.framesAfter(1, topic.epoch)).toBeUndefined();
  });
});

describe('HubTopic with log offsets', () => {
  const offsetsOf = (frames: Buffer[] | undefined) =>
    frames?.map((f) => (JSON.parse(f.toString()) as { offset: number }).offset);

  it('uses a fixed epoch (escaped in the frame) and the given sparse offsets', () => {
    const topic = new HubTopic('fills', 3, 'log"7');
    expect(topic.epoch).toBe('log"7');
    const frame = topic.append('{"x":1}', 10);
    expect(JSON.parse(frame.toString())).toEqual({
      type: 'message',
      topic: 'fills',
      epoch: 'log"7',
      offset: 10,
      data: { x: 1 },
    });
    for (const o of [12, 15, 20, 21]) topic.append('{}', o);
    expect(topic.offset).toBe(21);
    expect(topic.oldestOffset).toBe(15);
    expect(topic.historyLength).toBe(3);
    expect(topic.floor).toBe(12); // 10 and 12 left the ring
    expect(offsetsOf(topic.framesAfter(12, 'log"7'))).toEqual([15, 20, 21]);
    expect(offsetsOf(topic.framesAfter(14, 'log"7'))).toEqual([15, 20, 21]); // 13, 14: other topics' records
    expect(offsetsOf(topic.framesAfter(15, 'log"7'))).toEqual([20, 21]);
    expect(offsetsOf(topic.framesAfter(17, 'log"7'))).toEqual([20, 21]);
    expect(offsetsOf(topic.framesAfter(21, 'log"7'))).toEqual([]);
    expect(topic.framesAfter(11, 'log"7')).toBeUndefined(); // 12 is gone
    expect(topic.framesAfter(22, 'log"7')).toBeUndefined(); // ahead: the hub decides (held or resnapshot)
    expect(topic.framesAfter(15, 'other')).toBeUndefined();
  });

  it('knows a log-numbered topic only from its first message (the log before it was not seen)', () => {
    const topic = new HubTopic('t', 100, 'e');
    topic.append('1', 500);
    topic.append('2', 731);
    expect(topic.knownAfter).toBe(499);
    expect(topic.framesAfter(498, 'e')).toBeUndefined();
    expect(offsetsOf(topic.framesAfter(499, 'e'))).toEqual([500, 731]);
    // locally counted messages continue from the current offset
    topic.append('3');
    expect(topic.offset).toBe(732);
    expect(offsetsOf(topic.framesAfter(731, 'e'))).toEqual([732]);
  });

  it('without history, only an up-to-date client resumes', () => {
    const topic = new HubTopic('t', 0, 'e');
    topic.append('1', 4);
    topic.append('2', 9);
    expect(topic.framesAfter(9, 'e')).toEqual([]);
    expect(topic.framesAfter(8, 'e')).toBeUndefined();
  });

  it('finds the frames after any offset across ring wrap-arounds (reference check)', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    for (const size of [1, 2, 5, 16]) {
      const topic = new HubTopic('t', size, 'e');
      const all: number[] = [];
      let offset = Math.floor(random() * 5);
      for (let n = 0; n < 60; n++) {
        offset += 1 + Math.floor(random() * 4);
        topic.append(String(offset), offset);
        all.push(offset);
        const kept = all.slice(-size);
        const floor = all.length > size ? (all[all.length - size - 1] as number) : (all[0] as number) - 1;
        for (let c = (all[0] as number) - 3; c <= offset + 1; c++) {
          const expected = c < floor || c > offset ? undefined : kept.filter((o) => o > c);
          expect(offsetsOf(topic.framesAfter(c, 'e'))).toEqual(expected);
        }
      }
    }
  });
});

describe('upgrade refusals', () => {
  it('tells refusals from principals', () => {
    expect(isAuthRejection({ ok: false })).toBe(true);
    expect(isAuthRejection({ ok: true, user: 'u' })).toBe(false);
    expect(isAuthRejection({ user: 'u' })).toBe(false);
    expect(isAuthRejection(null)).toBe(false);
    expect(isAuthRejection(false)).toBe(false);
  });

  it('keeps 400-599 statuses and replaces anything else by 401', () => {
    for (const status of [400, 403, 429, 503, 599]) expect(toUpgradeRefusal({ ok: false, status }).status).toBe(status);
    for (const status of [undefined, 101, 200, 302, 600, 429.5, Number.NaN]) {
      expect(toUpgradeRefusal({ ok: false, status }).status).toBe(401);
    }
  });

  it('writes only valid, non-reserved headers and a string reason', () => {
    const refusal = toUpgradeRefusal({
      ok: false,
      status: 429,
      headers: {
        'Retry-After': 30,
        'X-Tab': 'a\tb',
        'X-Latin1': 'caf\u00e9',
        'x-crlf': 'a\r\nb',
        'X-Nul': 'a\u0000b',
        'Bad:Name': 'x',
        '': 'x',
        connection: 'keep-alive',
        'Transfer-Encoding': 'chunked',
      },
      reason: 'slow down',
    });
    expect(refusal.headerLines).toBe('Retry-After: 30\r\nX-Tab: a\tb\r\nX-Latin1: caf\u00e9\r\n');
    expect(refusal.body).toBe('slow down');
    expect(toUpgradeRefusal({ ok: false, reason: 5 as unknown as string, headers: null as never })).toEqual({
      status: 401,
      headerLines: '',
      body: '',
    });
    expect(statusText(429)).toBe('Too Many Requests');
    expect(statusText(499)).toBe('Error');
  });
});
