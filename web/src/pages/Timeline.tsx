import type { RefObject } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Recording } from '../api';
import { formatClock } from '../format';
import { link, recordingLink } from '../route';
import { currentRow, idleGap, loadTimeline, skipTarget, type Band, type Timeline, type TimelineRow } from '../timeline';

/** The timeline of a recording, loaded once it has ended (nothing before). */
export function useTimeline(recording: Recording | undefined): { timeline?: Timeline; error?: Error } {
  const [state, setState] = useState<{ timeline?: Timeline; error?: Error }>({});
  const ended = recording?.finished_at ? recording : undefined;
  useEffect(() => {
    if (!ended) return undefined;
    let live = true;
    loadTimeline(ended).then(
      (timeline) => live && setState({ timeline }),
      (error: Error) => live && setState({ error }),
    );
    return () => {
      live = false;
    };
  }, [ended?.id, ended?.finished_at]);
  return state;
}

/** "Skip idle" for a video: while it plays through an idle gap between activity bands, it
 * jumps to just before the next band. A gap the viewer sought into is left alone, so the
 * scrubber still reaches any moment. */
export function useSkipIdle(video: RefObject<HTMLVideoElement>, bands: Band[], enabled: boolean, src: string | undefined) {
  useEffect(() => {
    const element = video.current;
    if (!element || !enabled) return undefined;
    // The gap the viewer last sought into, if any.
    let held: Band | null = null;
    const onSeeked = () => {
      held = idleGap(bands, element.currentTime);
    };
    const onTimeUpdate = () => {
      if (element.paused || element.seeking) return;
      const gap = idleGap(bands, element.currentTime);
      if (gap && held && gap.end === held.end) return;
      const target = skipTarget(gap, element.currentTime);
      if (target !== null) element.currentTime = target;
    };
    element.addEventListener('seeked', onSeeked);
    element.addEventListener('timeupdate', onTimeUpdate);
    return () => {
      element.removeEventListener('seeked', onSeeked);
      element.removeEventListener('timeupdate', onTimeUpdate);
    };
  }, [video, bands, enabled, src]);
}

const percent = (seconds: number, duration: number) => `${Math.min(100, Math.max(0, (seconds / duration) * 100))}%`;

/** The video's length as an axis: activity bands shaded, a marker per action and request,
 * the playhead; a click anywhere seeks there. */
export function TimelineStrip(props: {
  duration: number;
  bands: Band[];
  rows: TimelineRow[];
  now: number;
  onSeek: (seconds: number) => void;
}) {
  const { duration, bands, rows, now, onSeek } = props;
  // The marks change only with the data; the playhead moves on every tick.
  const marks = useMemo(
    () => (
      <>
        {bands.map((band) => (
          <span
            key={band.start}
            class="band"
            data-start={band.start}
            data-end={band.end}
            style={{ left: percent(band.start, duration), width: percent(band.end - band.start, duration) }}
            title={`screen changing ${formatClock(band.start)}–${formatClock(band.end)}`}
          />
        ))}
        {rows.map((row) => (
          <span
            key={row.key}
            class={`marker marker-${row.kind}`}
            style={{ left: percent(row.at, duration) }}
            title={`${formatClock(row.at)} ${row.detail}`}
          />
        ))}
      </>
    ),
    [bands, rows, duration],
  );
  return (
    <div
      class="timeline-strip"
      aria-label="timeline strip"
      onClick={(e) => {
        const box = e.currentTarget.getBoundingClientRect();
        onSeek(Math.min(1, Math.max(0, (e.clientX - box.left) / box.width)) * duration);
      }}
    >
      {marks}
      <span class="playhead" style={{ left: percent(now, duration) }} />
    </div>
  );
}

/** Scrolls `container` just enough to show `row`, leaving the page where it is. */
function keepInView(container: HTMLElement, row: Element) {
  const outer = container.getBoundingClientRect();
  const inner = row.getBoundingClientRect();
  if (inner.top < outer.top) container.scrollTop -= outer.top - inner.top;
  else if (inner.bottom > outer.bottom) container.scrollTop += inner.bottom - outer.bottom;
}

const KINDS: Record<string, string> = { api: 'action · API', live_view: 'action · live view' };

/** The actions and requests in video order, each with its time (a deep link), kind and
 * details; a click seeks the video to it. The row the video is at is marked current and kept
 * in view. */
export function TimelineRows(props: {
  recordingId: string;
  rows: TimelineRow[];
  now: number;
  onSeek: (seconds: number) => void;
}) {
  const { recordingId, rows, now, onSeek } = props;
  const current = currentRow(rows, now);
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const row = box.current?.querySelector('[aria-current="true"]');
    if (box.current && row) keepInView(box.current, row);
  }, [current]);
  // Thousands of rows re-render only when the current one changes, not on every tick.
  const body = useMemo(
    () =>
      rows.map((row, i) => (
        <tr
          key={row.key}
          data-kind={row.kind}
          data-at={row.at}
          class={i === current ? 'current' : ''}
          aria-current={i === current ? 'true' : undefined}
          tabIndex={0}
          onClick={() => onSeek(row.at)}
          onKeyDown={(e) => e.key === 'Enter' && onSeek(row.at)}
        >
          <td class="mono">
            <a href={recordingLink(recordingId, row.at)}>{formatClock(row.at)}</a>
          </td>
          <td>{row.kind === 'request' ? 'request' : (KINDS[row.source ?? ''] ?? 'action')}</td>
          <td class="detail">{row.detail}</td>
          <td>
            {row.exchange && (
              <a
                href={link(`/traffic/${row.exchange.recordId}`, { exchange: row.exchange.id })}
                onClick={(e) => e.stopPropagation()}
              >
                exchange #{row.exchange.id}
              </a>
            )}
          </td>
        </tr>
      )),
    [rows, current, recordingId, onSeek],
  );
  if (rows.length === 0) return <p class="empty">No actions or requests while this recording ran.</p>;
  return (
    <div class="timeline-rows" ref={box}>
      <table class="list timeline" aria-label="timeline">
        <thead>
          <tr>
            <th>Time</th>
            <th>Kind</th>
            <th>Details</th>
            <th></th>
          </tr>
        </thead>
        <tbody>{body}</tbody>
      </table>
    </div>
  );
}
