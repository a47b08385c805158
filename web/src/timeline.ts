// The timeline under a recording: its session's actions and the project's traffic while it
// ran, on the video's own time axis, with the activity bands that show when its screen
// changed. Past loading (which takes its GET as a parameter), everything here is plain data in,
// plain data out; the player draws it.

import {
  getJson,
  projectExchangesPath,
  sessionEventsPath,
  type ActionPayload,
  type EventPage,
  type Exchange,
  type Page,
  type Recording,
  type SessionEvent,
} from './api';

/** Pages read at most per list: a longer recording's timeline stops there, and says so. */
export const MAX_PAGES = 20;
const EVENTS_PAGE = 1000;
const EXCHANGES_PAGE = 100;

/** A stretch of the video in which the screen kept changing, in seconds. */
export interface Band {
  start: number;
  end: number;
}

/** One row of the timeline: an action on the screen or a request through the proxy. */
export interface TimelineRow {
  /** Unique among the rows: the kind and the event's or exchange's id. */
  key: string;
  kind: 'action' | 'request';
  /** Seconds into the video. */
  at: number;
  /** `click_mouse (412, 300) left`, `GET 200 http://app.test/cart`. */
  detail: string;
  /** Who acted: `api` or `live_view` (actions only). */
  source?: string;
  /** The baseline it is, in its test record (requests only). */
  exchange?: { recordId: number; id: number };
}

/** Everything the timeline shows; `capped` names the lists cut at {@link MAX_PAGES}. */
export interface Timeline {
  rows: TimelineRow[];
  bands: Band[];
  /** The test records the requests belong to, in increasing order. */
  recordIds: number[];
  capped: ('events' | 'exchanges')[];
}

/** Seconds of video from the recording's first frame (`startedAt`) to the instant `at`. */
export function videoSeconds(at: string, startedAt: string): number {
  return (Date.parse(at) - Date.parse(startedAt)) / 1000;
}

/** An action as one line: its name, then its point, path end, scroll, button, clicks, keys
 * and text, as far as it has them. */
export function describeAction(p: ActionPayload): string {
  const parts = [p.action];
  if (p.x !== undefined && p.y !== undefined) parts.push(`(${p.x}, ${p.y})`);
  const last = p.path && p.path.length > 1 ? p.path[p.path.length - 1] : undefined;
  if (last) parts.push(`→ (${last[0]}, ${last[1]})`);
  if (p.dx !== undefined || p.dy !== undefined) parts.push(`by (${p.dx ?? 0}, ${p.dy ?? 0})`);
  if (p.button) parts.push(p.button);
  if (p.clicks !== undefined && p.clicks > 1) parts.push(`×${p.clicks}`);
  if (p.keys?.length) parts.push(p.keys.join(' '));
  if (p.text !== undefined) {
    const cut = p.chars !== undefined && p.chars > [...p.text].length;
    parts.push(`${JSON.stringify(p.text)}${cut ? `… (${p.chars} characters)` : ''}`);
  }
  return parts.join(' ');
}

/** The activity bands of recording `recordingId` among a session's events (its other
 * recordings' bands are on other videos), in video order. */
export function activityBands(events: SessionEvent[], recordingId: string): Band[] {
  const bands: Band[] = [];
  for (const event of events) {
    if (event.kind !== 'activity' || event.payload.recording_id !== recordingId) continue;
    const start = event.payload.video_ms / 1000;
    bands.push({ start, end: start + event.payload.duration_ms / 1000 });
  }
  return bands.sort((a, b) => a.start - b.start);
}

/** The session's actions and the exchanges, as rows on the video's time axis (the recording
 * began at `startedAt`), in video order; an action and a request at the same instant keep the
 * action first. */
export function timelineRows(events: SessionEvent[], exchanges: Exchange[], startedAt: string): TimelineRow[] {
  const rows: TimelineRow[] = [];
  for (const event of events) {
    if (event.kind !== 'action') continue;
    rows.push({
      key: `action-${event.id}`,
      kind: 'action',
      at: videoSeconds(event.at, startedAt),
      detail: describeAction(event.payload),
      source: event.payload.source,
    });
  }
  for (const e of exchanges) {
    rows.push({
      key: `request-${e.id}`,
      kind: 'request',
      at: videoSeconds(e.started_at, startedAt),
      detail: `${e.method} ${e.status} ${e.url}`,
      exchange: { recordId: e.test_record_id, id: e.id },
    });
  }
  // Array.prototype.sort is stable, so equal times keep actions before requests.
  return rows.sort((a, b) => a.at - b.at);
}

/** How far before a row's time the video may sit and still be at that row: a seek lands on
 * the time asked give or take the media clock's rounding. */
const SEEK_SLACK = 0.05;

/** The index of the row the video is at (the last one at or before `time`), -1 before the
 * first. `rows` are in video order. */
export function currentRow(rows: TimelineRow[], time: number): number {
  let low = 0;
  let high = rows.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (rows[middle].at <= time + SEEK_SLACK) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/** Gaps between bands longer than this are idle and may be skipped. */
export const IDLE_GAP_SECS = 1.5;
/** A skip lands this long before the next band, so its first change is seen. */
export const SKIP_LEAD_SECS = 0.2;

/** The idle stretch `time` is in: from the end of the band before it (or the video's start)
 * to the start of the next one, when that is longer than {@link IDLE_GAP_SECS}; null inside a
 * band, in a short gap, or after the last band (nothing to skip to). */
export function idleGap(bands: Band[], time: number): Band | null {
  let from = 0;
  for (const band of bands) {
    if (time < band.start) return band.start - from > IDLE_GAP_SECS ? { start: from, end: band.start } : null;
    if (time <= band.end) return null;
    from = Math.max(from, band.end);
  }
  return null;
}

/** Where "skip idle" takes a playing video at `time`: just before the next band when `time`
 * is in an idle gap and not already there, else null. */
export function skipTarget(gap: Band | null, time: number): number | null {
  if (!gap) return null;
  const target = gap.end - SKIP_LEAD_SECS;
  return time < target - SEEK_SLACK ? target : null;
}

/** One page of a list and the cursor of the next (null on the last). */
export interface Paged<T> {
  items: T[];
  next: number | null;
}

/** Reads a list page after page from a null cursor, stopping at the last page or after
 * `maxPages`; `capped` says the list went on. */
export async function collectPages<T>(
  page: (cursor: number | null) => Promise<Paged<T>>,
  maxPages = MAX_PAGES,
): Promise<{ items: T[]; capped: boolean }> {
  const items: T[] = [];
  let cursor: number | null = null;
  for (let read = 0; read < maxPages; read++) {
    const answer: Paged<T> = await page(cursor);
    items.push(...answer.items);
    if (answer.next === null) return { items, capped: false };
    cursor = answer.next;
  }
  return { items, capped: true };
}

/** Loads the timeline of a recording: its session's events and the project's exchanges from
 * its first frame to its end, every page up to {@link MAX_PAGES} each. */
export async function loadTimeline(recording: Recording, get = getJson): Promise<Timeline> {
  const window = { since: recording.started_at, until: recording.finished_at ?? undefined };
  const [events, exchanges] = await Promise.all([
    collectPages(async (after) => {
      const page = await get<EventPage>(sessionEventsPath(recording.session_id, window, after, EVENTS_PAGE));
      return { items: page.items, next: page.next_after };
    }),
    collectPages(async (offset) => {
      const page = await get<Page<Exchange>>(projectExchangesPath(window, offset ?? 0, EXCHANGES_PAGE));
      return { items: page.items, next: page.next_offset };
    }),
  ]);
  const capped: Timeline['capped'] = [];
  if (events.capped) capped.push('events');
  if (exchanges.capped) capped.push('exchanges');
  return {
    rows: timelineRows(events.items, exchanges.items, recording.started_at),
    bands: activityBands(events.items, recording.id),
    recordIds: [...new Set(exchanges.items.map((e) => e.test_record_id))].sort((a, b) => a - b),
    capped,
  };
}
