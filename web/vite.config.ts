import { defineConfig } from 'vitest/config';
import preact from '@preact/preset-vite';

// The dashboard is served by `tapedeck serve` at `/` (crates/api/src/dashboard.rs embeds
// dist/), so its bundles live under /assets/ and it calls the API on the same origin.
export default defineConfig({
  plugins: [preact()],
  build: { outDir: 'dist', assetsDir: 'assets', sourcemap: false, emptyOutDir: true },
  server: {
    proxy: {
      '/v1': 'http://127.0.0.1:7600',
      '/files': 'http://127.0.0.1:7600',
      '/live': { target: 'http://127.0.0.1:7600', ws: true },
    },
  },
  test: { environment: 'jsdom', include: ['src/**/*.test.{ts,tsx}'] },
});
