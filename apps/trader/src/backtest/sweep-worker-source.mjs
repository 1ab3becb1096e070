// Starts the sweep worker from the TypeScript sources (tests, `npm run dev`): registers tsx in this thread, then
// loads the worker. The built trader starts dist/backtest/sweep-worker.js directly and never loads this file.
const { register } = await import('tsx/esm/api');
register();
await import('./sweep-worker.ts');
