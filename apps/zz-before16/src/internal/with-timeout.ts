/** What {@link withTimeout} rejects with: the work got no answer at all in time (as opposed to failing). */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** Rejects with a {@link TimeoutError} (`<what> timed out after <ms> ms`) when `promise` has not settled in `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
