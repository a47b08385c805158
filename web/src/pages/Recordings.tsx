import { recordingsPath, type Page as ApiPage, type Recording } from '../api';
import { Filters, Page, Pager, Problem, StateBadge } from '../components';
import { dayToRfc3339, formatBytes, formatDateTime, formatMillis, formatTags } from '../format';
import { useApi } from '../hooks';
import { link, paramsObject, recordingLink } from '../route';

const LIMIT = 20;

const FIELDS = [
  { name: 'name', label: 'Session name', placeholder: 'part of the name' },
  { name: 'tag', label: 'Tag', placeholder: 'key:value' },
  { name: 'since', label: 'From', type: 'date' as const },
  { name: 'until', label: 'To', type: 'date' as const },
];

/** The API path of the list a route shows: one session's recordings, or a search over all. */
export function recordingsListPath(values: Record<string, string>, offset: number): string {
  if (values.session) return `/v1/sessions/${encodeURIComponent(values.session)}/recordings`;
  return recordingsPath(
    {
      name: values.name,
      tag: values.tag,
      since: values.since ? dayToRfc3339(values.since) : undefined,
      until: values.until ? dayToRfc3339(values.until, true) : undefined,
    },
    offset,
    LIMIT,
  );
}

export function Recordings(props: { params: URLSearchParams }) {
  const values = paramsObject(props.params);
  const offset = Number(values.offset ?? 0) || 0;
  const { data, error } = useApi<ApiPage<Recording>>(recordingsListPath(values, offset), 5000);
  const go = (next: Record<string, string | number>) => (location.hash = link('/recordings', next));
  const search = { name: values.name ?? '', tag: values.tag ?? '', since: values.since ?? '', until: values.until ?? '' };
  return (
    <Page title="Recordings">
      {values.session ? (
        <p class="scope">
          Recordings of session <span class="mono">{values.session}</span> ·{' '}
          <a href={link('/recordings')}>all recordings</a>
        </p>
      ) : (
        <Filters key={JSON.stringify(search)} fields={FIELDS} values={search} onApply={(v) => go({ ...v, offset: 0 })} />
      )}
      <Problem error={error} />
      <table class="list" aria-label="recordings">
        <thead>
          <tr>
            <th>Started</th>
            <th>Session</th>
            <th>State</th>
            <th>Length</th>
            <th>Size</th>
            <th>Tags</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((r) => (
            <tr key={r.id} data-recording-id={r.id}>
              <td>{formatDateTime(r.started_at)}</td>
              <td>
                {r.session_name ?? <span class="mono">{r.session_id}</span>}
              </td>
              <td>
                <StateBadge state={r.state} />
                {r.problem && <span class="muted" title={r.problem}> ⚠</span>}
              </td>
              <td>{formatMillis(r.duration_ms)}</td>
              <td>{formatBytes(r.size_bytes)}</td>
              <td>
                {formatTags(r.session_tags).map((t) => (
                  <span class="tag" key={t}>
                    {t}
                  </span>
                ))}
              </td>
              <td>
                <a class="play" href={recordingLink(r.id)}>
                  ▶ play
                </a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 && <p class="empty">No recordings match.</p>}
      {!values.session && (
        <Pager
          offset={offset}
          limit={LIMIT}
          count={data?.items.length ?? 0}
          nextOffset={data?.next_offset}
          onChange={(o) => go({ ...search, offset: o })}
        />
      )}
    </Page>
  );
}
