/**
 * Galata in Debian's Chromium or $MAI_CHROMIUM (run.sh picks; Playwright's own only where there
 * is no apt-get). `ui` is the test suite run by `make test`; `bench` holds the timing runs for
 * `make bench`. servers.py sets TARGET_URL.
 */
import { defineConfig } from '@playwright/test';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

export default defineConfig({
  ...baseConfig,
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'artifacts/report' }]],
  outputDir: 'artifacts/test-results',
  // generous: a loaded 2-core CI machine starts kernels slowly
  timeout: 240_000,
  expect: { timeout: 60_000 },
  workers: 1,
  fullyParallel: false,
  retries: process.env.CI ? 1 : 0,
  use: {
    ...baseConfig.use,
    baseURL: process.env.TARGET_URL ?? 'http://127.0.0.1:8888',
    viewport: { width: 1400, height: 1000 },
    // run.sh sets MAI_CHROMIUM; empty means Playwright's own Chromium (where there is no apt-get)
    launchOptions: { executablePath: (process.env.MAI_CHROMIUM ?? '/usr/bin/chromium') || undefined },
    // Galata's default video needs Playwright's own ffmpeg download
    video: 'off',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    actionTimeout: 60_000,
    navigationTimeout: 120_000
  },
  projects: [
    { name: 'ui', testDir: 'tests' },
    { name: 'bench', testDir: 'bench' }
  ]
});
