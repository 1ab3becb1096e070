/**
 * Redis key layout. A namespace path is `root[:child...]`; segments are restricted to
 * `[A-Za-z0-9_.-]`, so none of these forms can collide with another:
 *
 * - data:  `<path>::<key>`       (user keys may contain anything)
 * - tag:   `<path>:#tag:<tag>`   (a set of data keys)
 * - lease: `<path>:#lease:<key>` (holds the fencing token of the current loader)
 * - fence: `<path>:#fence`       (INCR counter issuing fencing tokens)
 *
 * Keys are not hash-tagged: a namespace spreads over every cluster slot. Multi-key
 * operations are therefore issued as single-key commands in cluster mode (auto-pipelining
 * batches them per node), and as one MGET/UNLINK on a standalone server.
 */
export const dataKey = (path: string, key: string): string => `${path}::${key}`;
/** Tag set key. */
export const tagKey = (path: string, tag: string): string => `${path}:#tag:${tag}`;
/** Lease key. */
export const leaseKey = (path: string, key: string): string => `${path}:#lease:${key}`;
/** Fencing counter key. */
export const fenceKey = (path: string): string => `${path}:#fence`;
/** SCAN pattern of a namespace's data keys (segments hold no glob characters). */
export const dataPattern = (path: string): string => `${path}::*`;
/** SCAN pattern of a namespace's tag sets. */
export const tagPattern = (path: string): string => `${path}:#tag:*`;
/** Strips the namespace from a data key. */
export const userKey = (path: string, redisKey: string): string => redisKey.slice(path.length + 2);
