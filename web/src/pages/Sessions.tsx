import { sessionsPath, type Page as ApiPage, type Session } from '../api';
import { Filters, Page, Pager, Problem, StateBadge } from '../components';
import { formatDateTime, formatTags } from '../format';
import { useApi } from '../hooks';
import { link, paramsObject } from '../route';

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
  const go = (next: Record<string, string | number>) => (location.hash = link('/sessions', next));
  return (
    <Page title="Sessions" aside={<span class="muted">refreshes every {SESSIONS_REFRESH_MS / 1000} s</span>}>
      <Filters key={JSON.stringify(filter)} fields={FIELDS} values={filter} onApply={(v) => go({ ...v, offset: 0 })} />
      <Problem error={error} />
      <table class="list" aria-label="sessions">
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
      {data && data.items.length === 0 && <p class="empty">No sessions match.</p>}
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
