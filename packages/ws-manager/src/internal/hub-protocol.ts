/** A parsed client request (see the README's "Hub client protocol"). */
export type ClientRequest =
  | { op: 'subscribe'; topic: string; offset: number | undefined; epoch: string | undefined; id: unknown }
  | { op: 'unsubscribe'; topic: string; id: unknown }
  | { op: 'ping'; id: unknown };

/** Longest accepted topic name. */
export const MAX_TOPIC_LENGTH = 256;

/** Parses one inbound frame; returns an error string for anything invalid. */
export function parseClientRequest(data: Buffer, isBinary: boolean): ClientRequest | string {
  if (isBinary) return 'binary frames are not accepted';
  let raw: unknown;
  try {
    raw = JSON.parse(data.toString('utf8'));
  } catch {
    return 'invalid JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'expected a JSON object';
  const msg = raw as Record<string, unknown>;
  const id = msg.id;
  if (msg.op === 'ping') return { op: 'ping', id };
  if (msg.op !== 'subscribe' && msg.op !== 'unsubscribe') return 'unknown op';
  const topic = msg.topic;
  if (typeof topic !== 'string' || topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    return `topic must be a string of 1-${MAX_TOPIC_LENGTH} characters`;
  }
  if (msg.op === 'unsubscribe') return { op: 'unsubscribe', topic, id };
  const offset = msg.offset;
  if (offset !== undefined && (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0)) {
    return 'offset must be a non-negative integer';
  }
  const epoch = msg.epoch;
  if (epoch !== undefined && typeof epoch !== 'string') return 'epoch must be a string';
  return { op: 'subscribe', topic, offset, epoch, id };
}
