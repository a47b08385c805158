import { useRef, useState } from 'preact/hooks';
import type { DownloadUrl } from '../api';
import { Problem } from '../components';
import { formatDateTime } from '../format';
import { downloadHar } from '../har';

/** What to hand someone who should see a recording: the presigned link to its MP4, which
 * works without a key until it expires, and the redacted HAR of each test record whose
 * traffic its timeline shows. */
export function Share(props: { video: DownloadUrl; recordIds: number[] }) {
  const { video, recordIds } = props;
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<Error>();
  const copy = async () => {
    input.current?.select();
    // The clipboard API exists on https and localhost only; elsewhere the selection is copied.
    if (navigator.clipboard) await navigator.clipboard.writeText(video.url);
    else document.execCommand('copy');
    setCopied(true);
  };
  return (
    <section class="share" aria-label="share">
      <h2>Share</h2>
      <Problem error={error} />
      <div class="share-link">
        <input ref={input} name="share-url" readOnly value={video.url} aria-label="video link" />
        <button type="button" onClick={() => copy().catch(setError)}>
          {copied ? 'copied' : 'copy'}
        </button>
        <span class="muted">works without a key until {formatDateTime(video.expires_at)}</span>
      </div>
      {recordIds.length > 0 && (
        <p>
          Redacted HAR of the traffic:{' '}
          {recordIds.map((id) => (
            <button key={id} type="button" class="link har" onClick={() => downloadHar(id, true).catch(setError)}>
              test record {id}
            </button>
          ))}
        </p>
      )}
    </section>
  );
}
