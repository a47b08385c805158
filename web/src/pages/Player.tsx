import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { DownloadUrl, Recording } from '../api';
import { Page, Problem, StateBadge } from '../components';
import { formatBytes, formatClock, formatDateTime } from '../format';
import { useApi } from '../hooks';
import { recordingLink } from '../route';
import { MAX_PAGES, type Band } from '../timeline';
import { Share } from './Share';
import { TimelineRows, TimelineStrip, useSkipIdle, useTimeline } from './Timeline';

const NO_BANDS: Band[] = [];

/** The longest a presigned URL lives (a week): the player's video link is also the one to share. */
const SHARE_SECS = 604_800;

/** A recording's video, from its presigned URL (served with Range, so the player seeks),
 * opened at `t` seconds when the link says so; under it, its timeline and what to share. */
export function Player(props: { id: string; t: number | null }) {
  const { id, t } = props;
  const recording = useApi<Recording>(`/v1/recordings/${encodeURIComponent(id)}`);
  const playable = recording.data && !['recording', 'stopping'].includes(recording.data.state);
  // A still-recording video has no file yet: ask again until it is finalized.
  const still = recording.data && !playable;
  useEffect(() => {
    if (!still) return undefined;
    const timer = setInterval(recording.reload, 2000);
    return () => clearInterval(timer);
  }, [still, recording.reload]);
  const download = useApi<DownloadUrl>(
    playable ? `/v1/recordings/${encodeURIComponent(id)}/download-url?expires_in_secs=${SHARE_SECS}` : null,
  );
  const video = useRef<HTMLVideoElement>(null);
  const [now, setNow] = useState(0);
  const { timeline, error: timelineError } = useTimeline(recording.data);
  const [skipIdle, setSkipIdle] = useState(false);
  useSkipIdle(video, timeline?.bands ?? NO_BANDS, skipIdle, download.data?.url);
  const seek = useCallback((seconds: number) => {
    if (video.current) video.current.currentTime = seconds;
  }, []);

  // A deep link's time applies once the video knows its length, and again when the link
  // changes while the page is open.
  useEffect(() => {
    const element = video.current;
    if (!element || t === null) return undefined;
    const open = () => {
      element.currentTime = t;
    };
    if (element.readyState >= HTMLMediaElement.HAVE_METADATA) open();
    else element.addEventListener('loadedmetadata', open, { once: true });
    return () => element.removeEventListener('loadedmetadata', open);
  }, [t, download.data?.url]);

  const r = recording.data;
  return (
    <Page title="Recording" aside={<a href="#/recordings">← all recordings</a>}>
      <Problem error={recording.error ?? download.error ?? timelineError} />
      {r && (
        <dl class="facts">
          <dt>Id</dt>
          <dd class="mono">{r.id}</dd>
          <dt>Session</dt>
          <dd class="mono">{r.session_id}</dd>
          <dt>State</dt>
          <dd>
            <StateBadge state={r.state} /> {r.stop_reason && <span class="muted">({r.stop_reason})</span>}
          </dd>
          <dt>Started</dt>
          <dd>{formatDateTime(r.started_at)}</dd>
          <dt>Length</dt>
          <dd>{r.duration_ms === null ? '–' : formatClock(r.duration_ms / 1000)}</dd>
          <dt>Size</dt>
          <dd>{formatBytes(r.size_bytes)}</dd>
          {r.problem && (
            <>
              <dt>Problem</dt>
              <dd>{r.problem}</dd>
            </>
          )}
        </dl>
      )}
      {still && <p class="scope">Still recording: the video appears once it is stopped.</p>}
      {download.data && (
        <div class="player">
          <video
            ref={video}
            src={download.data.url}
            controls
            preload="metadata"
            onTimeUpdate={(e) => setNow(e.currentTarget.currentTime)}
            onSeeked={(e) => setNow(e.currentTarget.currentTime)}
          />
          <div class="player-bar">
            <span class="clock" aria-label="current time">
              {formatClock(now)}
            </span>
            <a href={recordingLink(id, now)}>link to this moment</a>
            <a href={download.data.url} download={`${id}.mp4`}>
              download MP4
            </a>
            <label>
              <input type="checkbox" name="skip-idle" checked={skipIdle} onChange={(e) => setSkipIdle(e.currentTarget.checked)} />{' '}
              skip idle
            </label>
          </div>
          {timeline && r?.duration_ms ? (
            <>
              <TimelineStrip duration={r.duration_ms / 1000} bands={timeline.bands} rows={timeline.rows} now={now} onSeek={seek} />
              <p class="timeline-legend muted">
                <span class="swatch band" /> screen changing <span class="swatch marker-action" /> action{' '}
                <span class="swatch marker-request" /> request <span class="legend-hint">(click the strip or a row to seek)</span>
              </p>
              {timeline.capped.length > 0 && (
                <p class="scope">
                  The timeline stops after {MAX_PAGES} pages of {timeline.capped.join(' and ')}: later ones are not shown.
                </p>
              )}
              <TimelineRows recordingId={id} rows={timeline.rows} now={now} onSeek={seek} />
            </>
          ) : null}
          <Share video={download.data} recordIds={timeline?.recordIds ?? []} />
        </div>
      )}
    </Page>
  );
}
