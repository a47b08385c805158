import { describe, expect, it, vi } from 'vitest';
import type { Exchange, Recording, SessionEvent } from './api';
import {
  activityBands,
  collectPages,
  currentRow,
  describeAction,
  idleGap,
  loadTimeline,
  skipTarget,
  timelineRows,
  videoSeconds,
  type TimelineRow,
} from './timeline';

const STARTED = '2026-05-04T10:00:00.000000Z';

function action(id: number, at: string, payload: Record<string, unknown>): SessionEvent {
  return { id, at, elapsed_ms: 0, kind: 'action', payload: { source: 'api', action: 'click_mouse', ...payload } };
}

function activity(id: number, recordingId: string, videoMs: number, durationMs: number): SessionEvent {
  return {
    id,
    at: STARTED,
    elapsed_ms: 0,
    kind: 'activity',
    payload: { recording_id: recordingId, video_ms: videoMs, duration_ms: durationMs, frames: 10 },
  };
}

function exchange(id: number, startedAt: string, recordId = 7): Exchange {
  return {
    id,
    test_record_id: recordId,
    started_at: startedAt,
    duration_ms: 12,
    method: 'GET',
    url: `http://app.test/items/${id}`,
    status: 200,
    request_bytes: 0,
    response_bytes: 10,
    truncated: false,
    response_content_type: 'application/json',
  };
}

const row = (at: number): TimelineRow => ({ key: `r${at}`, kind: 'action', at, detail: '' });

describe('video time', () => {
  it('counts from the recording’s first frame, to the microsecond the events carry', () => {
    expect(videoSeconds('2026-05-04T10:01:13.250000Z', STARTED)).toBeCloseTo(73.25, 3);
    expect(videoSeconds('2026-05-04T12:00:01.5+02:00', STARTED)).toBeCloseTo(1.5, 3);
  });
});

describe('action details', () => {
  it('name the action with its coordinates, button, keys or text', () => {
    expect(describeAction({ action: 'click_mouse', source: 'api', x: 412, y: 300, button: 'left', clicks: 1 })).toBe(
      'click_mouse (412, 300) left',
    );
    expect(describeAction({ action: 'click_mouse', source: 'api', x: 1, y: 2, button: 'right', clicks: 2 })).toBe(
      'click_mouse (1, 2) right ×2',
    );
    expect(describeAction({ action: 'type_text', source: 'api', text: 'hello', chars: 5 })).toBe('type_text "hello"');
    expect(describeAction({ action: 'paste', source: 'live_view', text: 'ab', chars: 900 })).toBe(
      'paste "ab"… (900 characters)',
    );
    expect(describeAction({ action: 'press_key', source: 'api', keys: ['ctrl+l', 'Return'] })).toBe(
      'press_key ctrl+l Return',
    );
    expect(
      describeAction({ action: 'drag_mouse', source: 'api', x: 1, y: 2, path: [[1, 2], [5, 6], [30, 40]], button: 'left' }),
    ).toBe('drag_mouse (1, 2) → (30, 40) left');
    expect(describeAction({ action: 'scroll', source: 'live_view', x: 5, y: 6, dx: 0, dy: -3 })).toBe(
      'scroll (5, 6) by (0, -3)',
    );
  });
});

describe('rows and bands', () => {
  it('merge actions and requests in video order, actions first at the same instant', () => {
    const events = [
      action(1, '2026-05-04T10:00:02.000Z', { x: 10, y: 20, button: 'left' }),
      activity(2, 'rec-1', 0, 1000),
      action(3, '2026-05-04T10:00:05.500Z', { action: 'type_text', text: 'hi', chars: 2, source: 'live_view' }),
    ];
    const rows = timelineRows(events, [exchange(9, '2026-05-04T10:00:02.000Z'), exchange(8, '2026-05-04T10:00:01.000Z')], STARTED);
    expect(rows.map((r) => [r.key, r.at])).toEqual([
      ['request-8', 1],
      ['action-1', 2],
      ['request-9', 2],
      ['action-3', 5.5],
    ]);
    expect(rows[0]).toMatchObject({ kind: 'request', detail: 'GET 200 http://app.test/items/8', exchange: { recordId: 7, id: 8 } });
    expect(rows[3]).toMatchObject({ kind: 'action', detail: 'type_text "hi"', source: 'live_view' });
  });

  it('keep only the shown recording’s activity, in seconds and in order', () => {
    const events = [activity(1, 'rec-1', 4000, 500), activity(2, 'rec-2', 0, 9000), activity(3, 'rec-1', 250, 1000)];
    expect(activityBands(events, 'rec-1')).toEqual([
      { start: 0.25, end: 1.25 },
      { start: 4, end: 4.5 },
    ]);
  });
});

describe('the current row', () => {
  const rows = [row(1), row(2), row(2), row(7.5)];

  it('is the last one at or before the video’s time', () => {
    expect(currentRow(rows, 0.5)).toBe(-1);
    expect(currentRow(rows, 1)).toBe(0);
    expect(currentRow(rows, 3)).toBe(2);
    expect(currentRow(rows, 100)).toBe(3);
    expect(currentRow([], 3)).toBe(-1);
  });

  it('is the row a seek was asked for even when the video lands a hair before it', () => {
    expect(currentRow(rows, 7.49)).toBe(3);
  });
});

describe('skipping idle', () => {
  const bands = [
    { start: 3, end: 4 },
    { start: 5, end: 6 },
    { start: 10, end: 12 },
  ];

  it('finds gaps longer than 1.5 s between bands, the video’s start included', () => {
    expect(idleGap(bands, 1)).toEqual({ start: 0, end: 3 });
    expect(idleGap(bands, 3.5)).toBeNull(); // in a band
    expect(idleGap(bands, 4.5)).toBeNull(); // a 1 s gap
    expect(idleGap(bands, 7)).toEqual({ start: 6, end: 10 });
    expect(idleGap(bands, 13)).toBeNull(); // nothing after the last band
    expect(idleGap([], 1)).toBeNull();
  });

  it('jumps to just before the next band, once', () => {
    expect(skipTarget(idleGap(bands, 7), 7)).toBeCloseTo(9.8);
    expect(skipTarget(idleGap(bands, 9.8), 9.8)).toBeNull();
    expect(skipTarget(idleGap(bands, 9.9), 9.9)).toBeNull();
    expect(skipTarget(null, 7)).toBeNull();
  });
});

describe('loading', () => {
  it('reads pages until the last, and stops at the cap saying so', async () => {
    const page = vi.fn(async (cursor: number | null) => ({ items: [cursor ?? 0], next: (cursor ?? 0) < 4 ? (cursor ?? 0) + 1 : null }));
    expect(await collectPages(page)).toEqual({ items: [0, 1, 2, 3, 4], capped: false });
    expect(page.mock.calls.map(([cursor]) => cursor)).toEqual([null, 1, 2, 3, 4]);
    expect(await collectPages(page, 3)).toEqual({ items: [0, 1, 2], capped: true });
  });

  it('asks for the session’s events and the project’s traffic while the recording ran', async () => {
    const recording = { id: 'rec-1', session_id: 's 1', started_at: STARTED, finished_at: '2026-05-04T10:00:10Z' } as Recording;
    const get = vi.fn(async (path: string) => {
      if (path.includes('/events') && !path.includes('after=')) {
        return { items: [action(1, '2026-05-04T10:00:02Z', { x: 1, y: 2 })], next_after: 1 };
      }
      if (path.includes('/events')) return { items: [activity(2, 'rec-1', 0, 2000)], next_after: null };
      return { items: [exchange(5, '2026-05-04T10:00:03Z', 9), exchange(4, '2026-05-04T10:00:01Z', 3)], next_offset: null };
    });
    const timeline = await loadTimeline(recording, get as never);
    const window = 'since=2026-05-04T10%3A00%3A00.000000Z&until=2026-05-04T10%3A00%3A10Z';
    expect(get.mock.calls.map(([path]) => path)).toEqual([
      `/v1/sessions/s%201/events?${window}&limit=1000`,
      `/v1/exchanges?${window}&offset=0&limit=100`,
      `/v1/sessions/s%201/events?${window}&after=1&limit=1000`,
    ]);
    expect(timeline.rows.map((r) => r.key)).toEqual(['request-4', 'action-1', 'request-5']);
    expect(timeline.bands).toEqual([{ start: 0, end: 2 }]);
    expect(timeline.recordIds).toEqual([3, 9]);
    expect(timeline.capped).toEqual([]);
  });
});
