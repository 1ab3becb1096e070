/** A backoff wait that `wake()` cuts short, so stopping a retry loop does not wait out its backoff. */
export class Sleeper {
  private wakeUp: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** Resolves after `ms`, or at the next `wake()`. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeUp = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  /** Ends the current sleep now. */
  wake(): void {
    clearTimeout(this.timer);
    this.wakeUp?.();
    this.wakeUp = undefined;
  }
}
