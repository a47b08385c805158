import { sessionsPath, type Page as ApiPage, type Session } from '../api';
import { Filters, Page, Pager, Problem, StateBadge } from '../components';
import { formatDateTime, formatTags } from '../format';
import { useApi } from '../hooks';
import { link, paramsObject } from '../route';
import { Thumbnail } from '../thumbnail';

const LIMIT = 20;
/** The list follows sessions starting and ending without a reload. */
export const SESSIONS_REFRESH_MS = 3000;

const FIELDS = [
  { name: 'kind', label: 'Kind', options: [['', 'any'], ['browser', 'browser'], ['linux_box', 'linux box']] as [string, string][] },
  { name: 'state', label: 'State', options: [['running', 'running'], ['deleted', 'ended'], ['all', 'all']] as [string, string][] },
  { name: 'name', label: 'Name', placeholder: 'part of the name' },
  { name: 'tag', label: 'Tag', placeholder: 'key:value' },
];

export function Sessions(props: { params: URLSearchParams }) {
  const values = paramsObject(props.params);
  const filter = { kind: values.kind, state: values.state || 'running', name: values.name, tag: values.tag };
  const offset = Number(values.offset ?? 0) || 0;
  const { data, error } = useApi<ApiPage<Session>>(sessionsPath(filter, offset, LIMIT), SESSIONS_REFRESH_MS);
  const wall = values.view === 'wall';
  const go = (next: Record<string, string | number>) =>
    (location.hash = link('/sessions', { ...next, view: wall ? 'wall' : '' }));
  const running = data?.items.filter((s) => s.state === 'running') ?? [];
  return (
    <Page title="Sessions" aside={<span class="muted">refreshes every {SESSIONS_REFRESH_MS / 1000} s</span>}>
      <Filters key={JSON.stringify(filter)} fields={FIELDS} values={filter} onApply={(v) => go({ ...v, offset: 0 })} />
      <p class="views">
        <a href={link('/sessions', { ...filter, view: '' })} aria-current={!wall}>
          list
        </a>{' '}
        <a href={link('/sessions', { ...filter, view: 'wall' })} aria-current={wall}>
          wall of screens
        </a>
      </p>
      <Problem error={error} />
      {wall && (
        <div class="wall" aria-label="screens">
          {running.map((s) => (
            <figure key={s.id} data-session-id={s.id}>
              <a href={link(`/sessions/${s.id}/live`)}>
                <Thumbnail sessionId={s.id} label={s.name ?? s.id} />
              </a>
              <figcaption>
                {s.name ?? <span class="mono">{s.id}</span>} <span class="muted">{s.kind.replace('_', ' ')}</span>
              </figcaption>
            </figure>
          ))}
        </div>
      )}
      {wall && data && running.length === 0 && <p class="empty">No running sessions match.</p>}
      <table class="list" aria-label="sessions" hidden={wall}>
        <thead>
          <tr>
            <th>Name</th>
            <th>Id</th>
            <th>Kind</th>
            <th>State</th>
            <th>Tags</th>
            <th>Viewport</th>
            <th>Created</th>
            <th>Ended</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {data?.items.map((s) => (
            <tr key={s.id} data-session-id={s.id}>
              <td>{s.name ?? <span class="muted">unnamed</span>}</td>
              <td class="mono">{s.id}</td>
              <td>{s.kind.replace('_', ' ')}</td>
              <td>
                <StateBadge state={s.state} />
                {s.end_reason && <span class="muted"> ({s.end_reason})</span>}
              </td>
              <td>
                {formatTags(s.tags).map((t) => (
                  <span class="tag" key={t}>
                    {t}
                  </span>
                ))}
              </td>
              <td>
                {s.viewport.width}×{s.viewport.height}
              </td>
              <td>{formatDateTime(s.created_at)}</td>
              <td>{formatDateTime(s.deleted_at)}</td>
              <td>
                {s.state === 'running' && (
                  <>
                    <a href={link(`/sessions/${s.id}/live`)}>watch live</a>{' '}
                  </>
                )}
                <a href={link('/recordings', { session: s.id })}>recordings</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!wall && data && data.items.length === 0 && <p class="empty">No sessions match.</p>}
      <Pager
        offset={offset}
        limit={LIMIT}
        count={data?.items.length ?? 0}
        nextOffset={data?.next_offset}
        onChange={(o) => go({ ...filter, offset: o })}
      />
    </Page>
  );
}
