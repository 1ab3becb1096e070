import argon2 from 'argon2';

/** argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane). */
const PARAMS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes `password` with argon2id (a PHC string carrying its own salt and parameters). */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, PARAMS);
}

/** A hash of a random password, verified against when the user is unknown so that timing does not tell. */
let dummy: Promise<string> | undefined;

/**
 * True when `password` matches `hash`. With `hash` undefined (unknown user) a dummy hash is verified all the same and
 * the answer is false, so an unknown user costs as much time as a known one.
 */
export async function verifyPassword(hash: string | undefined, password: string): Promise<boolean> {
  dummy ??= hashPassword(crypto.randomUUID());
  const target = hash ?? (await dummy);
  let ok = false;
  try {
    ok = await argon2.verify(target, password);
  } catch {
    ok = false;
  }
  return ok && hash !== undefined;
}
