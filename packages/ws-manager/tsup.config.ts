import { defineConfig } from 'tsup';
import { inlineContracts } from '../contracts/tsup.inline.js';

export default defineConfig({
  entry: ['src/index.ts', 'src/hub.ts'],
  format: ['esm', 'cjs'],
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  ...inlineContracts,
});
