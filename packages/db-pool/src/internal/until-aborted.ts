const noop = () => {};

/** What {@link untilAborted} resolves with when the signal fired first. */
export const ABORTED: unique symbol = Symbol('aborted');

/**
 * Resolves with `work`'s value (or rejects with its error), or with {@link ABORTED} as soon as `signal` fires, at
 * once when it already has. `work` goes on either way; its outcome is then ignored. The abort listener is removed when
 * either settles, so a long-lived signal does not collect listeners.
 */
export async function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) {
    work.catch(noop);
    return ABORTED;
  }
  let onAbort: () => void = noop;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
