import { fileURLToPath } from 'node:url';
import type { ChannelPackage, HealthCheckResult } from '@cryptoscalp/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { channelProblems, defaultsProblems, healthShapeProblems, statsProblems } from './checks.js';

/** What every component of the suite offers: a `close()` that every caller can await. */
export interface ConformingComponent {
  close(): Promise<void>;
}

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
