let cached = 0;
let valid = false;
const invalidate = (): void => {
  valid = false;
};

/**
 * `Date.now()` read at most once per synchronous job: `ws` emits every frame of a TCP chunk in one job, so a burst
 * of frames shares one clock read (a `Date.now()` costs ~250 ns on some virtual machines' clock sources).
 */
export function coarseNow(): number {
  if (!valid) {
    cached = Date.now();
    valid = true;
    queueMicrotask(invalidate);
  }
  return cached;
}
