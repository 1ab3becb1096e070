import { generateSecret, generateURI, verify } from 'otplib';

/** A new TOTP secret (base32, 160 bits) and its `otpauth://` enrolment URI. */
export function newTotp(issuer: string, username: string): { secret: string; uri: string } {
  const secret = generateSecret();
  return { secret, uri: generateURI({ issuer, label: username, secret }) };
}

/**
 * Checks a 6-digit RFC 6238 code (30 s steps, one step either side for clock drift). Returns the code's time step,
 * or `undefined` when the code is wrong or its step is not after `lastStep` (a code is accepted once: replays fail).
 */
export async function checkTotp(secret: string, code: string, lastStep: number): Promise<number | undefined> {
  if (!/^[0-9]{6}$/.test(code)) return undefined;
  const r = await verify({ secret, token: code, epochTolerance: 30, afterTimeStep: lastStep });
  return r.valid && 'timeStep' in r ? r.timeStep : undefined;
}
