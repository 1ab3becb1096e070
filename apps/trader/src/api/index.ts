/**
 * @deprecated The HTTP API moved to `src/http`; this re-export keeps the old import path compiling until its last
 * users (`test/integration/api-engine-wiring.test.ts`, `api-trader-e2e.test.ts`, `api-mount.test.ts`) move.
 */
export * from '../http/index.js';
