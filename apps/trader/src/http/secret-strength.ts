/** The rule, as the error messages state it. */
export const SECRET_RULE =
  'must be at least 32 bytes with an estimated entropy of at least 96 bits (length x Shannon entropy of its bytes), e.g. `openssl rand -hex 32`';

/**
 * Why `secret` is too weak for an HMAC key or a bearer secret, `undefined` when it is fine. A length check alone
 * passes `'a'.repeat(32)`; the estimate (bytes x the empirical Shannon entropy per byte) gives 0 bits for it, ~88 for
 * a word repeated to 32 bytes, ~117 for 32 random hex digits and ~245 for 64.
 */
export function secretProblem(secret: string | Uint8Array): string | undefined {
  const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (bytes.byteLength < 32) return `${SECRET_RULE}; it has ${bytes.byteLength} bytes`;
  const bits = entropyBits(bytes);
  if (bits < 96) return `${SECRET_RULE}; it has about ${Math.floor(bits)} bits`;
  return undefined;
}

function entropyBits(bytes: Uint8Array): number {
  const counts = new Map<number, number>();
  for (const b of bytes) counts.set(b, (counts.get(b) ?? 0) + 1);
  let perByte = 0;
  for (const n of counts.values()) {
    const p = n / bytes.byteLength;
    perByte -= p * Math.log2(p);
  }
  return perByte * bytes.byteLength;
}
