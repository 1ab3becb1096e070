// argon2 is a native addon, loaded on first use: a process that never handles a password (an engine, a backtest,
// a gateway nobody logs in to) does not load it at all. (The image's argon2 prebuild crashed at load at the end
// of 2026-12-03; loading it lazily keeps everything else running while that is investigated.)
type Argon2 = typeof import('argon2');
let loaded: Promise<Argon2> | undefined;
function argon2(): Promise<Argon2> {
  loaded ??= import('argon2').then((m) => ((m as { default?: Argon2 }).default ?? m) as Argon2);
  return loaded;
}

/** Hashes `password` with argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): a PHC string. */
export async function hashPassword(password: string): Promise<string> {
  const a = await argon2();
  return a.hash(password, { type: a.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
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
    ok = await (await argon2()).verify(target, password);
  } catch {
    ok = false;
  }
  return ok && hash !== undefined;
}
