import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (installed by scripts/install-system-deps.sh). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium for the dashboard tests, with the flags this machine needs (no sandbox as root, and no background
 * networking: the closed network refuses it). Throws with the install command when Chromium is missing.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with: apt-get install -y chromium`);
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}
