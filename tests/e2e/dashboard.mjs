// Drives the dashboard (served at /) in a headless Debian Chromium, the way a person would, and
// prints one JSON line with what it saw. Every wait is on a condition in the page; each page is
// saved as a screenshot under the given directory.
//   node dashboard.mjs story     <json>   sign in (a wrong key first), sessions, a session's
//                                         live view, recordings,
//                                         the player (play, seek to the middle), a deep link,
//                                         test runs, the traffic table with filters and bodies
//   node dashboard.mjs isolation <json>   signed in with another project's key: none of it
//   node dashboard.mjs timeline  <json>   a recording's timeline: its rows, bands and share
//                                         box; each tap's row clicked to seek the video
//   node dashboard.mjs wall      <json>   the sessions page's wall: the session's thumbnail
//                                         shows and is fetched again
// <json>: {url, key, session, recording, record, token, deep_link_t, taps, shots, prefix}
import { chromium } from 'playwright-core';

const [mode, json] = process.argv.slice(2);
const input = JSON.parse(json);
const WAIT = { timeout: 30000 };

async function withPage(fn) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
    const failures = [];
    page.on('pageerror', (err) => failures.push(String(err)));
    const result = await fn(page);
    return { ...result, page_errors: failures };
  } finally {
    await browser.close();
  }
}

const shot = (page, name) => page.screenshot({ path: `${input.shots}/${input.prefix ?? ''}${name}.png`, fullPage: true });

async function signIn(page, key) {
  await page.fill('input[name=api-key]', key);
  await page.click('button[type=submit]');
}

/** The state of the page's video: where it is, how long it is, whether it is playing. */
const videoState = (page) =>
  page.evaluate(() => {
    const v = document.querySelector('video');
    return { currentTime: v.currentTime, duration: v.duration, paused: v.paused, readyState: v.readyState };
  });

async function story() {
  return withPage(async (page) => {
    const seen = {};
    await page.goto(input.url);
    await signIn(page, 'not-a-key-of-this-server');
    seen.wrong_key_error = await page.locator('[role=alert]').innerText(WAIT);
    seen.key_kept_after_wrong = await page.evaluate(() => sessionStorage.getItem('tapedeck.apiKey'));
    await shot(page, 'sign-in-refused');
    await signIn(page, input.key);

    // Sessions: the test's browser is listed, and found by its name through the filter.
    const sessionRow = page.locator(`tr[data-session-id="${input.session}"]`);
    await sessionRow.waitFor(WAIT);
    await page.fill('input[name=name]', input.session_name.slice(2, 10).toUpperCase());
    await page.click('form.filters button[type=submit]');
    await page.waitForFunction((name) => location.hash.includes(`name=${name}`), input.session_name.slice(2, 10).toUpperCase(), WAIT);
    await page.waitForFunction(
      (id) => {
        const rows = [...document.querySelectorAll('tr[data-session-id]')];
        return rows.length === 1 && rows[0].dataset.sessionId === id;
      },
      input.session,
      WAIT,
    );
    seen.session_row = await sessionRow.innerText();
    await shot(page, 'sessions');

    // Its live view: the session's screen, drawing frames, in the page.
    await sessionRow.locator('text=watch live').click();
    await page.waitForFunction(() => document.querySelector('iframe.live')?.contentWindow?.liveView?.frames >= 1, null, WAIT);
    seen.live_control = await page.evaluate(() => document.querySelector('iframe.live').contentWindow.liveView.control);
    await shot(page, 'live-view');

    // Recordings: its replay is listed; play opens the player.
    await page.click('nav >> text=Recordings');
    const recordingRow = page.locator(`tr[data-recording-id="${input.recording}"]`);
    await recordingRow.waitFor(WAIT);
    seen.recording_row = await recordingRow.innerText();
    await shot(page, 'recordings');
    await recordingRow.locator('a.play').click();
    await page.waitForFunction(() => document.querySelector('video')?.readyState >= 1, null, WAIT);

    // The player plays: its time advances.
    await page.evaluate(() => {
      const v = document.querySelector('video');
      v.muted = true;
      return v.play();
    });
    await page.waitForFunction(() => document.querySelector('video').currentTime > 0.5, null, WAIT);
    seen.played = await videoState(page);
    await page.evaluate(() => document.querySelector('video').pause());

    // ... and seeks to the middle, which needs Range requests on the presigned URL.
    seen.video_src = await page.evaluate(() => document.querySelector('video').currentSrc);
    await page.evaluate(() => {
      const v = document.querySelector('video');
      v.currentTime = v.duration / 2;
    });
    await page.waitForFunction(() => {
      const v = document.querySelector('video');
      return !v.seeking && Math.abs(v.currentTime - v.duration / 2) < 0.25 && v.readyState >= 2;
    }, null, WAIT);
    seen.seeked = await videoState(page);
    await shot(page, 'player');

    // A deep link opens the recording at its time, in a page loaded afresh.
    await page.goto(`${input.url}/#/recordings/${input.recording}?t=${input.deep_link_t}`);
    await page.reload();
    await page.waitForFunction(
      (t) => {
        const v = document.querySelector('video');
        return v && v.readyState >= 2 && !v.seeking && Math.abs(v.currentTime - t) < 0.2;
      },
      input.deep_link_t,
      WAIT,
    );
    seen.deep_link = await videoState(page);
    seen.deep_link_clock = await page.locator('.clock').innerText();
    await shot(page, 'deep-link');

    // Test runs: the run that recorded the traffic, with its counters, and its record.
    await page.click('nav >> text=Test runs');
    await page.locator(`a[href="#/traffic/${input.record}"]`).first().waitFor(WAIT);
    seen.runs_text = await page.locator('table[aria-label="test runs"]').innerText();
    await shot(page, 'runs');

    // Traffic: filtered to the test's POST by method, status class and text, then its bodies.
    await page.locator(`a[href="#/traffic/${input.record}"]`).first().click();
    await page.locator('tr[data-exchange-id]').first().waitFor(WAIT);
    seen.unfiltered_rows = await page.locator('tr[data-exchange-id]').count();
    // Typed filters wait for Apply; choosing a method applies them all at once.
    await page.fill('input[name=status]', '2xx');
    await page.fill('input[name=q]', input.token);
    await page.selectOption('select[name=method]', 'POST');
    await page.waitForFunction(
      () =>
        ['method=POST', 'status=2xx', 'q='].every((part) => location.hash.includes(part)) &&
        document.querySelectorAll('tr[data-exchange-id]').length === 1,
      null,
      WAIT,
    );
    const row = page.locator('tr[data-exchange-id]');
    seen.filtered_row = await row.innerText();
    await row.click();
    const requestBody = page.locator('[data-part=request-body]');
    await page.waitForFunction((token) => document.querySelector('[data-part=request-body]')?.textContent.includes(token), input.token, WAIT);
    seen.request_body = await requestBody.innerText();
    seen.response_body = await page.locator('[data-part=response-body]').innerText();
    await shot(page, 'traffic');

    // A filter that matches nothing says so.
    await page.fill('input[name=q]', `${input.token}-absent`);
    await page.click('form.filters button[type=submit]');
    await page.locator('p.empty').waitFor(WAIT);
    seen.no_match = await page.locator('p.empty').innerText();
    return seen;
  });
}

async function isolation() {
  return withPage(async (page) => {
    const seen = {};
    await page.goto(`${input.url}/#/sessions?state=all`);
    await signIn(page, input.key);
    await page.locator('p.empty').waitFor(WAIT);
    seen.sessions = await page.locator('tr[data-session-id]').count();
    await shot(page, 'sessions');
    await page.goto(`${input.url}/#/recordings`);
    await page.locator('p.empty').waitFor(WAIT);
    seen.recordings = await page.locator('tr[data-recording-id]').count();
    await page.goto(`${input.url}/#/runs`);
    await page.locator('table[aria-label="test records"] + p.empty').waitFor(WAIT);
    seen.runs_text = await page.locator('main').innerText();
    await shot(page, 'runs');
    await page.goto(`${input.url}/#/recordings/${input.recording}?t=1`);
    seen.recording_error = await page.locator('[role=alert]').innerText(WAIT);
    seen.videos = await page.locator('video').count();
    await shot(page, 'recording');
    await page.goto(`${input.url}/#/traffic/${input.record}`);
    seen.traffic_error = await page.locator('[role=alert]').innerText(WAIT);
    seen.exchanges = await page.locator('tr[data-exchange-id]').count();
    await shot(page, 'traffic');
    return seen;
  });
}

async function timeline() {
  return withPage(async (page) => {
    const seen = {};
    await page.goto(`${input.url}/#/recordings/${input.recording}`);
    await signIn(page, input.key);
    await page.locator('table[aria-label=timeline] tr[data-kind]').first().waitFor(WAIT);
    await page.waitForFunction(() => document.querySelector('video')?.readyState >= 1, null, WAIT);
    seen.bands = await page.locator('.timeline-strip .band').count();
    seen.rows = await page.$$eval('table[aria-label=timeline] tr[data-kind]', (rows) =>
      rows.map((row) => ({
        kind: row.dataset.kind,
        clock: row.cells[0].innerText,
        kind_text: row.cells[1].innerText,
        detail: row.cells[2].innerText,
        link: row.cells[3].querySelector('a')?.getAttribute('href') ?? null,
      })),
    );
    seen.share_url = await page.inputValue('input[name=share-url]');
    seen.har_buttons = await page.locator('.share button.har').allInnerTexts();
    await shot(page, 'timeline');

    // Each tap's row, clicked, seeks the video to the tap and becomes the current row.
    seen.sought = [];
    for (const tap of input.taps) {
      const row = page.locator('table[aria-label=timeline] tr[data-kind=action]', { hasText: `(${tap.x}, ${tap.y})` });
      const detail = await row.locator('td.detail').innerText();
      await row.locator('td.detail').click();
      // Done once the video is there and the page has caught up with it.
      await page.waitForFunction(
        (detail) => {
          const v = document.querySelector('video');
          return !v.seeking && document.querySelector('tr[aria-current=true] td.detail')?.innerText === detail;
        },
        detail,
        WAIT,
      );
      seen.sought.push({
        ...(await videoState(page)),
        current: await page.locator('tr[aria-current=true] td.detail').innerText(),
      });
    }
    await shot(page, 'timeline-sought');

    // Skip idle, played from the start of a band followed by an idle gap: how far the video
    // got in how much wall time to reach the next band's lead-in. Then, still playing, a seek
    // into that gap: the video stays there.
    const gap = await page.$$eval('.timeline-strip .band', (bands) => {
      const spans = bands.map((b) => [Number(b.dataset.start), Number(b.dataset.end)]);
      const i = spans.findIndex((span, k) => k + 1 < spans.length && spans[k + 1][0] - span[1] > 1.5);
      return i < 0 ? null : [spans[i][0], spans[i][1], spans[i + 1][0]];
    });
    if (!gap) throw new Error('no idle gap between the bands');
    const [from, idle, next] = gap;
    await page.check('input[name=skip-idle]');
    const seekTo = (t) =>
      page.evaluate(
        (t) =>
          new Promise((done) => {
            const v = document.querySelector('video');
            v.addEventListener('seeked', done, { once: true });
            v.currentTime = t;
          }),
        t,
      );
    await seekTo(from);
    const started = { wall: Date.now(), video: (await videoState(page)).currentTime };
    await page.evaluate(() => document.querySelector('video').play());
    await page.waitForFunction((t) => document.querySelector('video').currentTime >= t, next - 0.3, WAIT);
    const reached = { wall: Date.now(), video: (await videoState(page)).currentTime };
    await seekTo(idle + 0.2);
    const held = { wall: Date.now(), video: (await videoState(page)).currentTime };
    await page.waitForTimeout(600);
    const after = { wall: Date.now(), video: (await videoState(page)).currentTime };
    await page.evaluate(() => document.querySelector('video').pause());
    seen.skip = {
      gap: [idle, next],
      video: reached.video - started.video,
      wall: (reached.wall - started.wall) / 1000,
      held_video: after.video - held.video,
      held_wall: (after.wall - held.wall) / 1000,
    };
    return seen;
  });
}

async function wall() {
  return withPage(async (page) => {
    await page.goto(`${input.url}/#/sessions?view=wall`);
    await signIn(page, input.key);
    const image = `figure[data-session-id="${input.session}"] img.thumbnail`;
    await page.locator(image).waitFor(WAIT);
    await page.waitForFunction((sel) => document.querySelector(sel).naturalWidth > 0, image, WAIT);
    const first = await page.evaluate((sel) => {
      const img = document.querySelector(sel);
      return { src: img.src, width: img.naturalWidth, height: img.naturalHeight };
    }, image);
    // About once a second the picture is fetched again, as a new object URL.
    await page.waitForFunction(([sel, src]) => document.querySelector(sel).src !== src, [image, first.src], WAIT);
    const table_hidden = await page.locator('table[aria-label=sessions]').isHidden();
    await shot(page, 'sessions-wall');
    return { thumbnail: first, table_hidden };
  });
}

const modes = { story, isolation, timeline, wall };
try {
  console.log(JSON.stringify(await modes[mode]()));
} catch (err) {
  console.error(err.stack ?? String(err));
  process.exit(1);
}
