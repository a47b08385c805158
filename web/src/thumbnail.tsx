import { useEffect, useState } from 'preact/hooks';
import { request } from './api';

/** How often a thumbnail is fetched again: a wall of them shows every session about live. */
export const THUMBNAIL_REFRESH_MS = 1000;
/** The thumbnails' width in pixels; the server shrinks the screen to at most this. */
export const THUMBNAIL_WIDTH = 320;

/** The path of a running session's thumbnail. */
export function thumbnailPath(sessionId: string, width = THUMBNAIL_WIDTH): string {
  return `/v1/sessions/${encodeURIComponent(sessionId)}/thumbnail?width=${width}`;
}

/** A running session's screen, fetched with the key every {@link THUMBNAIL_REFRESH_MS} (an
 * `<img src>` cannot send the key). A fetch still in flight is not doubled; a failed one keeps
 * the last picture and tries again on the next tick. */
export function Thumbnail(props: { sessionId: string; label: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let shown: string | null = null;
    let busy = false;
    let stopped = false;
    const refresh = async () => {
      if (busy) return;
      busy = true;
      try {
        const blob = await (await request(thumbnailPath(props.sessionId))).blob();
        if (stopped) return;
        const next = URL.createObjectURL(blob);
        if (shown) URL.revokeObjectURL(shown);
        shown = next;
        setUrl(next);
      } catch {
        // The session may be ending; the list drops it on its next refresh.
      } finally {
        busy = false;
      }
    };
    void refresh();
    const timer = setInterval(refresh, THUMBNAIL_REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
      if (shown) URL.revokeObjectURL(shown);
    };
  }, [props.sessionId]);
  return url ? (
    <img class="thumbnail" src={url} alt={`screen of ${props.label}`} />
  ) : (
    <div class="thumbnail placeholder" aria-label={`screen of ${props.label} loading`} />
  );
}
