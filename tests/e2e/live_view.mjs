// Opens a live-view URL in its own headless Debian Chromium, as a person watching would, and
// prints one JSON line with what it saw. Every wait is on a condition in a page.
// Each viewer is saved as a screenshot, `<shots>/<name>.png`.
//   node live_view.mjs watch <json>   {viewer}: frames arrive; reports access and size
//   node live_view.mjs story <json>   {viewer, cdp, click: [x, y]}: a change made over CDP in
//                                      the session's page shows in the viewer (latency in ms),
//                                      then a click in the viewer at screen point `click`
//   node live_view.mjs rewind <json>  {viewer}: scrubs back into the recording, plays it, and
//                                      returns to live
import { chromium } from 'playwright-core';

const [mode, json] = process.argv.slice(2);
const input = JSON.parse(json);
const WAIT = { timeout: 30000 };

/** The viewer's canvas pixel at screen point (x, y), as [r, g, b]. */
const canvasPixel = (viewer, x, y) =>
  viewer.evaluate(([x, y]) => Array.from(document.getElementById('screen').getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)), [x, y]);

async function openViewer(browser) {
  const viewer = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors = [];
  viewer.on('pageerror', (err) => errors.push(String(err)));
  const answer = await viewer.goto(input.viewer);
  if (answer.status() !== 200) throw new Error(`viewer page answered ${answer.status()}`);
  await viewer.waitForFunction(() => window.liveView.frames >= 1, null, WAIT);
  return { viewer, errors };
}

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const { viewer, errors } = await openViewer(browser);
    const seen = await viewer.evaluate(() => {
      const canvas = document.getElementById('screen');
      return { control: window.liveView.control, width: canvas.width, height: canvas.height };
    });
    if (mode === 'story') {
      // A full-page shade drawn in the session's own page: the viewer shows it.
      const session = await chromium.connectOverCDP(input.cdp);
      const page = session.contexts()[0].pages()[0];
      const [x, y] = input.click;
      const before = await canvasPixel(viewer, x, y);
      const changed = Date.now();
      await page.evaluate(() => document.body.insertAdjacentHTML('beforeend',
        '<div id=shade style="position:fixed;inset:0;background:rgb(0,200,0);z-index:99;pointer-events:none"></div>'));
      await viewer.waitForFunction(([x, y]) => {
        const [r, g, b] = document.getElementById('screen').getContext('2d').getImageData(x, y, 1, 1).data;
        return r < 40 && g > 160 && b < 40;
      }, [x, y], WAIT);
      seen.change_ms = Date.now() - changed;
      seen.pixel_before = before;
      seen.pixel_after = await canvasPixel(viewer, x, y);
      await page.evaluate(() => document.getElementById('shade').remove());
      // A click in the viewer at the canvas pixel of screen point (x, y).
      const box = await viewer.locator('#screen').boundingBox();
      const scale = box.width / seen.width;
      const downs = () => page.evaluate(() => window.events.filter((e) => e.type === 'mousedown').length);
      const clicksBefore = await downs();
      await viewer.mouse.click(box.x + (x + 0.5) * scale, box.y + (y + 0.5) * scale);
      if (seen.control) {
        await page.waitForFunction((n) => window.events.filter((e) => e.type === 'mousedown').length > n, clicksBefore, WAIT);
      } else {
        // Read-only: a later control click would show; none may arrive from this one.
        await viewer.waitForTimeout(1000);
      }
      seen.mousedowns = await page.evaluate((n) => window.events.filter((e) => e.type === 'mousedown').slice(n)
        .map((e) => [e.x, e.y, e.button]), clicksBefore);
      await session.close();
    }
    if (mode === 'rewind') {
      await viewer.click('#rewind');
      await viewer.waitForFunction(() => {
        const video = document.getElementById('replay');
        return window.liveView.mode === 'replay' && video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA;
      }, null, WAIT);
      const replay = () => viewer.evaluate(() => {
        const video = document.getElementById('replay');
        return { duration: video.duration, currentTime: video.currentTime, canvasHidden: document.getElementById('screen').hidden };
      });
      seen.replay = await replay();
      // It plays: the clock moves past where it started.
      await viewer.waitForFunction((t) => document.getElementById('replay').currentTime > t + 0.5, seen.replay.currentTime, WAIT);
      seen.replay_state = await viewer.locator('#state').textContent();
      await viewer.screenshot({ path: `${input.shots}/${input.name}-replay.png` });
      await viewer.click('#golive');
      Object.assign(seen, await viewer.evaluate(() => ({
        back_mode: window.liveView.mode,
        video_hidden: document.getElementById('replay').hidden,
        canvas_shown: !document.getElementById('screen').hidden,
      })));
    }
    await viewer.screenshot({ path: `${input.shots}/${input.name}.png` });
    seen.page_errors = errors;
    console.log(JSON.stringify(seen));
  } finally {
    await browser.close();
  }
}

await main();
