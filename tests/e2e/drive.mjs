// Real CDP clients for the end-to-end tests. Prints one JSON line with what it saw.
//   node drive.mjs playwright <cdp_ws_url> <page_url>   drive a page: load, wait, click the button
//   node drive.mjs puppeteer  <cdp_ws_url>              connect with Puppeteer and evaluate
//   node drive.mjs play       <cdp_ws_url> <mp4_url>    play and seek an MP4 in the session's Chromium
//   node drive.mjs eval       <cdp_ws_url> <expression> evaluate an expression in the front page
//   node drive.mjs proxied    <proxy_url> <password> <url>  launch Chromium behind a proxy that
//                                                     asks for Basic credentials; load the page
//   node drive.mjs visit      <cdp_ws_url> <url>        navigate the front page; say whether it
//                                                       loaded, the error, and the page's text
//   node drive.mjs metadata   <page_url>                launch a headless Chromium, open a page
//                                                       whose <video> sets window.metadata to its
//                                                       duration on loadedmetadata; print it
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';

const [mode, cdpUrl, target] = process.argv.slice(2);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withPlaywrightPage(fn) {
  const browser = await chromium.connectOverCDP(cdpUrl, { timeout: 20000 });
  try {
    const context = browser.contexts()[0];
    const page = context.pages()[0] ?? (await context.newPage());
    return await fn(page);
  } finally {
    await browser.close();
  }
}

async function drive() {
  return withPlaywrightPage(async (page) => {
    await page.goto(target);
    await sleep(2000);
    await page.click('#go');
    await sleep(2000);
    const clicked = await page.evaluate(() => document.body.classList.contains('clicked'));
    return { clicked, title: await page.title() };
  });
}

async function play() {
  return withPlaywrightPage(async (page) => {
    await page.goto(target);
    return page.evaluate(async () => {
      const video = document.querySelector('video');
      if (video.readyState < 1) {
        await new Promise((resolve, reject) => {
          video.addEventListener('loadedmetadata', resolve, { once: true });
          video.addEventListener('error', () => reject(new Error('video error ' + video.error?.code)), { once: true });
        });
      }
      const duration = video.duration;
      video.currentTime = duration / 2;
      await new Promise((resolve) => video.addEventListener('seeked', resolve, { once: true }));
      return { duration, seekedTo: video.currentTime, width: video.videoWidth, height: video.videoHeight };
    });
  });
}

async function viaPuppeteer() {
  const browser = await puppeteer.connect({ browserWSEndpoint: cdpUrl, protocolTimeout: 20000 });
  try {
    const pages = await browser.pages();
    const sum = await pages[0].evaluate(() => 20 + 22);
    return { version: await browser.version(), sum };
  } finally {
    await browser.disconnect();
  }
}

async function evaluate() {
  return withPlaywrightPage(async (page) => ({ value: await page.evaluate(target) }));
}

// Chromium sends proxy credentials only when a 407 asks for them, for requests and CONNECT.
async function proxied() {
  const [server, password, url] = process.argv.slice(3);
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    // Loopback URLs go through the proxy too; they name the proxy host's loopback.
    args: ['--no-sandbox', '--proxy-bypass-list=<-loopback>'],
    proxy: { server, username: 'tapedeck', password },
  });
  try {
    const page = await browser.newPage();
    const response = await page.goto(url, { timeout: 20000 });
    return { status: response.status(), body: await response.text() };
  } finally {
    await browser.close();
  }
}


async function visit() {
  return withPlaywrightPage(async (page) => {
    let error = null;
    try {
      await page.goto(target, { timeout: 15000 });
    } catch (err) {
      error = String(err.message ?? err);
    }
    // A refused navigation commits an error page; read the text once it has settled.
    let text = null;
    for (let attempt = 0; text === null && attempt < 20; attempt++) {
      await page.waitForLoadState('load').catch(() => {});
      text = await page.evaluate(() => document.documentElement?.innerText ?? '').catch(() => null);
      if (text === null) await sleep(250);
    }
    return { loaded: error === null, error, url: page.url(), text: text ?? '' };
  });
}

// A page that reports its video's duration, in a Chromium of its own (no session needed).
async function metadata() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(process.argv[3], { timeout: 20000 });
    await page.waitForFunction(() => window.metadata !== undefined, null, { timeout: 60000 });
    return { duration: await page.evaluate(() => window.metadata) };
  } finally {
    await browser.close();
  }
}

const modes = { playwright: drive, puppeteer: viaPuppeteer, play, eval: evaluate, proxied, visit, metadata };
if (!modes[mode]) {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await modes[mode]()));
} catch (err) {
  console.error(err.stack ?? String(err));
  process.exit(1);
}
