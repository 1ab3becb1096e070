import { createHash } from 'node:crypto';

/** Stable id of a label set: sha1 over the sorted `name=value` pairs, 16 hex characters. */
export function fingerprint(labels: Record<string, string>): string {
  const h = createHash('sha1');
  for (const name of Object.keys(labels).sort()) h.update(`${name}\u0000${labels[name]}\u0001`);
  return h.digest('hex').slice(0, 16);
}

/** Cheap stable key of a label set (for maps, not for display). */
export function labelKey(labels: Record<string, string>): string {
  let out = '';
  for (const name of Object.keys(labels).sort()) out += `${name}\u0000${labels[name]}\u0001`;
  return out;
}
