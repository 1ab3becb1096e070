import diagnostics from 'node:diagnostics_channel';
import { fileURLToPath } from 'node:url';
import type { ChannelName, ChannelPackage, ChannelPayloads, HealthCheckResult, Hook } from '@cryptoscalp/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { channelProblems, defaultsProblems, healthShapeProblems, statsProblems } from './checks.js';

/** What every component of the suite offers: a `close()` that every caller can await. */
export interface ConformingComponent {
  close(): Promise<void>;
}

/**
 * One typed hook of a component (`onX(listener)` returning `{ dispose() }`) and the channel it mirrors. `hook` is typed
 * by the channel registry, so a hook whose payload is not the channel's payload type does not compile; `fire` makes
 * the event happen at least once (each call), against real servers.
 */
export type HookCase<C> = {
  [N in ChannelName]: {
    /** The hook's name on the component, e.g. `onBreakerStateChange`. */
    name: string;
    /** The channel publishing the same events. */
    channel: N;
    /** The hook of `component` (bound: hooks are properties, not methods). */
    hook(component: C): Hook<ChannelPayloads[N]>;
    /** Makes the event happen at least once; resolves once it has been emitted. */
    fire(component: C): Promise<void>;
  };
}[ChannelName];

/** What a package hands {@link conformanceSuite}. */
export interface ConformanceOptions<C extends ConformingComponent> {
  /** The package, as registered in `CHANNEL_PREFIXES` of `@cryptoscalp/contracts`. */
  package: ChannelPackage;
  /** A started component against real servers; the suite closes it. */
  create(): Promise<C>;
  /** One health check of the package (the component's own, or an indicator the package ships). */
  healthCheck(component: C): Promise<HealthCheckResult>;
  /** The component's `stats()` snapshot. */
  stats(component: C): unknown;
  /** True once everything the component holds is released (sockets ended, timers stopped). */
  released(component: C): boolean | Promise<boolean>;
  /** The channel name constants the package exports. */
  channels: readonly string[];
  /** The package's `DEFAULTS` export (every default in one object, unit-bearing names suffixed). */
  defaults: unknown;
  /** Constructs the component with an invalid value of `field` (it must throw at construction). */
  invalidOption: { field: string; construct(): unknown };
  /** The package's `E_<PKG>` code prefix, e.g. `E_CACHE`, `E_DB`, `E_WS`. */
  codePrefix: string;
  /** The package's error guard, and an error made by a second copy of the package's module. */
  guard: {
    is(error: unknown): boolean;
    foreignError(): Promise<unknown>;
    localClass: abstract new (...args: never[]) => Error;
  };
  /** The component's typed hooks to check (CONTRIBUTING, "Hooks"); at least the one that is easiest to fire. */
  hooks?: ReadonlyArray<HookCase<C>>;
}

/** Polls `condition` for up to 5 s (the emitting work may finish a tick after `fire` resolves). */
async function eventually(condition: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/**
 * The conformance suite every package runs (bentocache's `test_suite` style): call it at the top level of a test
 * file with the package's factory. It checks the contracts of `@cryptoscalp/contracts` and the conventions of
 * CONTRIBUTING: the health shape, `stats()` of plain data, channel names, `close()` idempotent and awaited by
 * every caller, the invalid-option error, and the error guard across duplicate installs.
 */
export function conformanceSuite<C extends ConformingComponent>(options: ConformanceOptions<C>): void {
  describe(`@cryptoscalp/${options.package} conformance`, () => {
    const created: C[] = [];
    const create = async () => {
      const component = await options.create();
      created.push(component);
      return component;
    };
    afterAll(async () => {
      await Promise.all(created.map((c) => c.close()));
    });

    it('healthCheck() answers in the contracts HealthCheckResult shape', async () => {
      expect(healthShapeProblems(await options.healthCheck(await create()))).toEqual([]);
    });

    it('stats() is plain data with numeric leaves', async () => {
      expect(statsProblems(options.stats(await create()))).toEqual([]);
    });

    it(`publishes only on registered cryptoscalp:<prefix>:<event> channels of ${options.package}`, () => {
      expect(options.channels.length).toBeGreaterThan(0);
      expect(channelProblems(options.package, options.channels)).toEqual([]);
    });

    it('exports DEFAULTS: one object of plain data whose unit-bearing names say their unit', () => {
      expect(defaultsProblems(options.defaults)).toEqual([]);
    });

    it('close() is idempotent and every caller waits for the close to finish', async () => {
      const component = await create();
      const settled: boolean[] = [];
      const first = component.close().then(async () => settled.push(await options.released(component)));
      const second = component.close().then(async () => settled.push(await options.released(component)));
      await Promise.all([first, second]);
      expect(settled).toEqual([true, true]);
      await component.close();
      expect(await options.released(component)).toBe(true);
    });

    it(`rejects a bad option at construction with ${options.codePrefix}_INVALID_OPTION naming the field`, () => {
      let thrown: unknown;
      try {
        options.invalidOption.construct();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(Error);
      expect(thrown).toMatchObject({
        code: `${options.codePrefix}_INVALID_OPTION`,
        field: options.invalidOption.field,
      });
      expect((thrown as Error).message).toContain(options.invalidOption.field);
    });

    for (const hookCase of options.hooks ?? []) {
      it(`${hookCase.name}() returns an idempotent disposable and delivers the ${hookCase.channel} payload`, async () => {
        const component = await create();
        const hook = hookCase.hook(component) as Hook<unknown>;
        const published: unknown[] = [];
        const onChannel = (message: unknown) => published.push(message);
        diagnostics.subscribe(hookCase.channel, onChannel);
        try {
          const received: unknown[] = [];
          // A throwing listener first: the emitter must still reach the next one, and the component keep working.
          const throwing = hook(() => {
            throw new Error('conformance: a listener that throws');
          });
          const subscription = hook((event) => received.push(event));
          expect(typeof subscription.dispose).toBe('function');
          await hookCase.fire(component);
          expect(await eventually(() => received.length > 0)).toBe(true);
          // The same event as the channel's (a hook may leave out `component`, which the instance already names).
          for (const event of received) expect(published).toContainEqual(expect.objectContaining(event as object));
          subscription.dispose();
          subscription.dispose();
          throwing.dispose();
          throwing.dispose();
          const seen = received.length;
          const before = published.length;
          await hookCase.fire(component);
          expect(await eventually(() => published.length > before)).toBe(true);
          expect(received).toHaveLength(seen);
          expect(() => hook('not a function' as never)).toThrow(TypeError);
        } finally {
          diagnostics.unsubscribe(hookCase.channel, onChannel);
        }
      });
    }

    it('its error guard recognizes an error from another copy of the package', async () => {
      const foreign = await options.guard.foreignError();
      expect(foreign).not.toBeInstanceOf(options.guard.localClass);
      expect(options.guard.is(foreign)).toBe(true);
      expect(options.guard.is(new Error('plain'))).toBe(false);
    });
  });
}

let copies = 0;

/**
 * Loads a second, separate instance of a module (what a duplicate install gives a process): the same file under
 * another module id. `url` is the module's URL, e.g. `new URL('../../src/errors.ts', import.meta.url)`.
 */
export async function loadSecondCopy<M>(url: URL): Promise<M> {
  return (await import(/* @vite-ignore */ `${fileURLToPath(url)}?copy=${++copies}`)) as M;
}
