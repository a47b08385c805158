// The Playwright `recordVideo` anchor: headful Chromium on the display in $DISPLAY, 1280x720,
// one page showing argv[2]. With argv[3] = fps it records through Playwright's own pipeline
// (CDP screencast → ffmpeg VP9); with "none" it only shows the page, as the baseline for the
// Chromium CPU that recording adds. Prints {"ready": true} once the page shows, waits for a line
// on stdin, then closes (finalizing the video) and prints {"video": path|null}.
import { createInterface } from "node:readline";

// The e2e suite's pinned playwright-core (scripts/install-deps --test installs it).
const { chromium } = await import(new URL("../tests/e2e/node_modules/playwright-core/index.mjs", import.meta.url));

const [url, fps, dir] = process.argv.slice(2);
const size = { width: 1280, height: 720 };
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: false,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--window-position=0,0", "--window-size=1280,720"],
});
const context = await browser.newContext({
  viewport: size,
  ...(fps === "none" ? {} : { recordVideo: { dir, size, fps: Number(fps) } }),
});
const page = await context.newPage();
await page.goto(url);
console.log(JSON.stringify({ ready: true }));
const stdin = createInterface({ input: process.stdin });
await new Promise((resolve) => stdin.once("line", resolve));
stdin.close();
const video = page.video();
await context.close();
const path = video ? await video.path() : null;
await browser.close();
console.log(JSON.stringify({ video: path }));
process.exit(0);
