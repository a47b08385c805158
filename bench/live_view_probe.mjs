// A live viewer for the live-view benchmark: a headless Chromium showing a viewer page (Tapedeck's
// or noVNC's) whose screen is a <canvas>. Prints one JSON line.
//   latency <json>  {viewer, canvas, cdp, samples}: flips a square in the watched session's page
//                   over CDP between two colours and times each flip until the viewer's canvas
//                   shows it: [ms, …]
//   watch <json>    {viewer, canvas}: prints {"ready": true} once frames show, keeps watching
//                   until a line arrives on stdin (the benchmark meters CPU in between)
import { createInterface } from "node:readline";

const { chromium } = await import(new URL("../tests/e2e/node_modules/playwright-core/index.mjs", import.meta.url));

const [mode, json] = process.argv.slice(2);
const input = JSON.parse(json);
const WAIT = { timeout: 30000, polling: "raf" };
const COLOURS = [[230, 40, 40], [40, 40, 230]];
// The square's centre, in screen (and canvas) pixels; the session is a kiosk, so page = screen.
const AT = [300, 300];

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const viewer = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await viewer.goto(input.viewer);
  // The viewer draws its first frame: the canvas is the screen's size and not blank.
  await viewer.waitForFunction((selector) => {
    const canvas = document.querySelector(selector);
    if (!canvas || canvas.width < 1000) return false;
    const [r, g, b, a] = canvas.getContext("2d").getImageData(640, 360, 1, 1).data;
    return a > 0 && r + g + b > 0;
  }, input.canvas, WAIT);
  if (mode === "watch") {
    console.log(JSON.stringify({ ready: true }));
    const lines = createInterface({ input: process.stdin });
    await new Promise((done) => lines.once("line", done));
    lines.close();
  } else {
    const session = await chromium.connectOverCDP(input.cdp);
    const page = session.contexts()[0].pages()[0];
    await page.evaluate(() => document.body.insertAdjacentHTML("beforeend",
      '<div id=probe style="position:fixed;left:200px;top:200px;width:200px;height:200px;z-index:99"></div>'));
    const times = [];
    for (let i = 0; i < input.samples + 2; i++) {
      const [r, g, b] = COLOURS[i % 2];
      const flipped = Date.now();
      await page.evaluate((colour) => { document.getElementById("probe").style.background = colour; }, `rgb(${r},${g},${b})`);
      await viewer.waitForFunction(([selector, [x, y], [r, g, b]]) => {
        const [pr, pg, pb] = document.querySelector(selector).getContext("2d").getImageData(x, y, 1, 1).data;
        return Math.abs(pr - r) < 40 && Math.abs(pg - g) < 40 && Math.abs(pb - b) < 40;
      }, [input.canvas, AT, [r, g, b]], WAIT);
      // The first two flips warm both sides up; they are not counted.
      if (i >= 2) times.push(Date.now() - flipped);
    }
    await session.close();
    console.log(JSON.stringify({ latency_ms: times }));
  }
} finally {
  await browser.close();
}
