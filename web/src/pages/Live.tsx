import { useEffect, useState } from 'preact/hooks';
import { createLiveView, type LiveView } from '../api';
import { Page, Problem } from '../components';
import { formatDateTime } from '../format';
import { link } from '../route';

/** A running session's screen, live, in an iframe of its bare live-view page: in control of its
 * mouse and keyboard, or watching only. */
export function Live(props: { id: string; access: 'read' | 'control' }) {
  const { id, access } = props;
  const [view, setView] = useState<LiveView>();
  const [error, setError] = useState<Error>();
  useEffect(() => {
    setView(undefined);
    setError(undefined);
    createLiveView(id, access).then(setView, setError);
  }, [id, access]);
  const other = access === 'control' ? 'read' : 'control';
  return (
    <Page
      title="Live view"
      aside={
        <span>
          <span class="mono">{id}</span> · {access === 'control' ? 'in control' : 'watching only'} ·{' '}
          <a href={link(`/sessions/${id}/live`, { access: other === 'read' ? 'read' : undefined })}>
            {other === 'read' ? 'watch only' : 'take control'}
          </a>
          {view && (
            <>
              {' '}
              · <a href={view.url} target="_blank" rel="noreferrer">open in a new tab</a> · link works until{' '}
              {formatDateTime(view.expires_at)}
            </>
          )}
        </span>
      }
    >
      <Problem error={error} />
      {view && <iframe class="live" title="live view" src={view.raw_url} allow="clipboard-read; clipboard-write" />}
    </Page>
  );
}
