import { CHANNEL_NAMES, CHANNEL_PREFIXES, CHANNELS, type ChannelPackage } from '@cryptoscalp/contracts';

const STATUSES = new Set(['pass', 'warn', 'fail']);

/** Why `result` is not a contracts `HealthCheckResult` (empty when it is one). */
export function healthShapeProblems(result: unknown): string[] {
  if (typeof result !== 'object' || result === null) return ['not an object'];
  const r = result as Record<string, unknown>;
  const problems: string[] = [];
  if (!STATUSES.has(r.status as string)) problems.push(`status ${String(r.status)} is not pass/warn/fail`);
  const optional: Record<string, string> = {
    observedValue: 'number',
    observedUnit: 'string',
    output: 'string',
    time: 'string',
  };
  for (const [key, type] of Object.entries(optional)) {
    if (r[key] !== undefined && typeof r[key] !== type) problems.push(`${key} is not a ${type}`);
  }
  if (typeof r.time === 'string' && Number.isNaN(Date.parse(r.time))) problems.push('time is not an ISO-8601 date');
  if (r.details !== undefined && !isPlainObject(r.details)) problems.push('details is not a plain object');
  const known = new Set(['status', 'details', ...Object.keys(optional)]);
  for (const key of Object.keys(r)) if (!known.has(key)) problems.push(`unknown key ${key}`);
  return problems;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Why `stats` is not a contracts `StatsRecord` (empty when it is one): every leaf a finite number, a boolean, a
 * string or undefined, every branch a plain object, and at least one number somewhere.
 */
export function statsProblems(stats: unknown): string[] {
  if (!isPlainObject(stats)) return ['stats() did not return a plain object'];
  const problems: string[] = [];
  let numbers = 0;
  const walk = (value: unknown, path: string): void => {
    if (typeof value === 'number') {
      if (Number.isFinite(value)) numbers++;
      else problems.push(`${path} is ${value}`);
    } else if (isPlainObject(value)) {
      for (const [key, child] of Object.entries(value)) walk(child, path === '' ? key : `${path}.${key}`);
    } else if (value === null) {
      problems.push(`${path} is null (leave the key undefined)`);
    } else if (!['boolean', 'string', 'undefined'].includes(typeof value)) {
      problems.push(
        `${path} is ${Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'a class instance' : `a ${typeof value}`}`,
      );
    }
  };
  walk(stats, '');
  if (numbers === 0) problems.push('no numeric leaf');
  return problems;
}

/**
 * Why a package's exported channel names disagree with the contracts registry (empty when they agree): each
 * name is `cryptoscalp:<package prefix>:<event>`, registered for this package, and every channel the registry
 * lists for the package is exported.
 */
export function channelProblems(pkg: ChannelPackage, exported: readonly string[]): string[] {
  const pattern = new RegExp(`^cryptoscalp:${CHANNEL_PREFIXES[pkg]}:[a-z]+(-[a-z]+)*$`);
  const problems: string[] = [];
  for (const name of exported) {
    if (!pattern.test(name)) problems.push(`${name} does not match ${pattern}`);
    const info = (CHANNELS as Record<string, { package: string } | undefined>)[name];
    if (info === undefined) problems.push(`${name} is not in the contracts registry`);
    else if (info.package !== pkg) problems.push(`${name} is registered for ${info.package}`);
  }
  for (const name of CHANNEL_NAMES) {
    if (CHANNELS[name].package === pkg && !exported.includes(name))
      problems.push(`${name} is registered but not exported`);
  }
  return problems;
}

/**
 * Label sets of a state gauge (1 for the current state, 0 for the others) that do not have exactly one state at 1,
 * in Prometheus text exposition: one line per offending set (its labels without `state`).
 */
export function stateMetricProblems(exposition: string, metric: string): string[] {
  const ones = new Map<string, number>();
  const line = new RegExp(`^${metric}\\{(.*)\\} (\\S+)$`);
  for (const text of exposition.split('\n')) {
    const match = line.exec(text);
    if (!match) continue;
    const pairs = (match[1] ?? '').match(/[a-zA-Z_]\w*="(?:[^"\\]|\\.)*"/g) ?? [];
    const key = pairs
      .filter((p) => !p.startsWith('state='))
      .sort()
      .join(',');
    ones.set(key, (ones.get(key) ?? 0) + (Number(match[2]) === 1 ? 1 : 0));
  }
  return [...ones].filter(([, n]) => n !== 1).map(([labels, n]) => `{${labels}} has ${n} states at 1`);
}

/** Option names that carry a unit without saying it (`timeout`, `ttl`, `retryDelay`...): time and size words. */
const UNIT_WORD = /(timeout|ttl|grace|interval|delay|period|age|lifetime|duration|latency)$/i;
/** The suffixes that say the unit. */
const UNIT_SUFFIX = /(Ms|Bytes|Seconds|Sec|Ratio|Percentage)$/;

/**
 * Problems of a package's `DEFAULTS` export: it is a plain object of plain data, and every numeric default whose
 * name is a time or size word ends in its unit (`timeoutMs`, `maxFrameBytes`), the convention of CONTRIBUTING.
 */
export function defaultsProblems(defaults: unknown, path = 'DEFAULTS'): string[] {
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) {
    return [`${path} is not a plain object`];
  }
  const problems: string[] = [];
  for (const [key, value] of Object.entries(defaults)) {
    const at = `${path}.${key}`;
    if (typeof value === 'number' && UNIT_WORD.test(key) && !UNIT_SUFFIX.test(key)) {
      problems.push(`${at} carries a unit its name does not say (use a Ms/Bytes suffix)`);
    } else if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.getPrototypeOf(value) === Object.prototype
    ) {
      problems.push(...defaultsProblems(value, at));
    }
  }
  return problems;
}
