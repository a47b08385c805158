// Times the dashboard's traffic table in a headless Debian Chromium: for each view (a hash
// route of the table with its filters), from setting the route to its first page of rows on
// screen. Prints one JSON line: {view: [ms, ...]}.
//   node traffic_probe.mjs '{"url", "key", "record", "views": {name: query}, "runs"}'
// playwright-core as the end-to-end tests install it.
const { chromium } = await import(new URL('../tests/e2e/node_modules/playwright-core/index.mjs', import.meta.url));

const input = JSON.parse(process.argv[2]);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
  await page.goto(`${input.url}/#/runs`);
  await page.fill('input[name=api-key]', input.key);
  await page.click('button[type=submit]');
  await page.locator('h1').first().waitFor();
  const timings = Object.fromEntries(Object.keys(input.views).map((name) => [name, []]));
  for (let run = 0; run < input.runs; run += 1) {
    for (const [name, query] of Object.entries(input.views)) {
      // Leave the table first, so each view is a fresh page of rows.
      await page.evaluate(() => { location.hash = '#/runs'; });
      await page.locator('table[aria-label=exchanges]').waitFor({ state: 'detached' });
      const ms = await page.evaluate(([record, query]) => new Promise((resolve) => {
        const start = performance.now();
        const rows = () => document.querySelectorAll('table[aria-label=exchanges] tbody tr').length;
        const watch = new MutationObserver(() => {
          if (rows() > 0) { watch.disconnect(); resolve(performance.now() - start); }
        });
        watch.observe(document.body, { childList: true, subtree: true });
        location.hash = `#/traffic/${record}${query}`;
      }), [input.record, query]);
      timings[name].push(ms);
    }
  }
  console.log(JSON.stringify(timings));
} finally {
  await browser.close();
}
