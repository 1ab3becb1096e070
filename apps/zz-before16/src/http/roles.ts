import type { Role } from './types.js';

/** Roles in increasing privilege. */
export const ROLES: readonly Role[] = Object.freeze(['viewer', 'trader', 'admin']);

const RANK: Record<Role, number> = { viewer: 0, trader: 1, admin: 2 };

/** True when `value` names a role. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

/** True when `have` is at least `need` (admin > trader > viewer). */
export function roleAtLeast(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}
