import { useState } from 'preact/hooks';
import { exchangesPath, type Exchange, type HarEntry, type Page as ApiPage } from '../api';
import { Filters, Page, Pager, Problem } from '../components';
import { formatBytes, formatDateTime, formatMillis } from '../format';
import { bodyText, downloadHar } from '../har';
import { useApi } from '../hooks';
import { link, paramsObject } from '../route';

const LIMIT = 50;
const METHODS = ['', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

const FIELDS = [
  { name: 'method', label: 'Method', options: METHODS.map((m) => [m, m || 'any'] as [string, string]) },
  { name: 'status', label: 'Status', placeholder: '404 or 4xx' },
  { name: 'host', label: 'Host', placeholder: 'host or host:port' },
  { name: 'q', label: 'Text', placeholder: 'in URL or body' },
];

/** Host and path of a URL, for a narrow column. */
function place(url: string): { host: string; path: string } {
  try {
    const u = new URL(url);
    return { host: u.host, path: `${u.pathname}${u.search}` };
  } catch {
    return { host: '', path: url };
  }
}

function statusClass(status: number): string {
  return `status status-${Math.floor(status / 100)}xx`;
}

function Headers(props: { headers: { name: string; value: string }[] }) {
  return (
    <table class="headers">
      <tbody>
        {props.headers.map((h, i) => (
          <tr key={i}>
            <th>{h.name}</th>
            <td>{h.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Detail(props: { recordId: number; exchangeId: string; onClose: () => void }) {
  const { data, error } = useApi<HarEntry>(`/v1/test-records/${props.recordId}/exchanges/${props.exchangeId}`);
  const request = data && bodyText(data.request.postData?.text, data.request.postData?.encoding);
  const response = data && bodyText(data.response.content.text, data.response.content.encoding);
  return (
    <aside class="detail" aria-label="exchange">
      <header>
        <h2>
          Exchange #{props.exchangeId}
          {data && (
            <span class="muted">
              {' '}
              {data.request.method} {data.request.url}
            </span>
          )}
        </h2>
        <button type="button" onClick={props.onClose}>
          close
        </button>
      </header>
      <Problem error={error} />
      {data && (
        <div class="detail-columns">
          <section>
            <h3>Request</h3>
            <Headers headers={data.request.headers} />
            <h4>Body</h4>
            <pre class="body" data-part="request-body">{request || <span class="muted">(empty)</span>}</pre>
          </section>
          <section>
            <h3>
              Response <span class={statusClass(data.response.status)}>{data.response.status}</span>
            </h3>
            <Headers headers={data.response.headers} />
            <h4>Body</h4>
            <pre class="body" data-part="response-body">{response || <span class="muted">(empty)</span>}</pre>
          </section>
        </div>
      )}
    </aside>
  );
}

export function Traffic(props: { recordId: number; params: URLSearchParams }) {
  const { recordId } = props;
  const values = paramsObject(props.params);
  const filter = { method: values.method ?? '', status: values.status ?? '', host: values.host ?? '', q: values.q ?? '' };
  const offset = Number(values.offset ?? 0) || 0;
  const list = useApi<ApiPage<Exchange>>(exchangesPath(recordId, filter, offset, LIMIT));
  const [harError, setHarError] = useState<Error>();
  const go = (next: Record<string, string | number | undefined>) =>
    (location.hash = link(`/traffic/${recordId}`, { ...filter, offset, exchange: values.exchange, ...next }));
  return (
    <Page
      title={`Traffic of test record ${recordId}`}
      aside={
        <span>
          <a href="#/runs">← test runs</a> ·{' '}
          <button type="button" class="link" onClick={() => downloadHar(recordId, true).catch(setHarError)}>
            download HAR
          </button>
        </span>
      }
    >
      <Filters key={JSON.stringify(filter)} fields={FIELDS} values={filter} onApply={(v) => go({ ...v, offset: 0 })} />
      <Problem error={list.error ?? harError} />
      <table class="list traffic" aria-label="exchanges">
        <thead>
          <tr>
            <th>#</th>
            <th>Time</th>
            <th>Method</th>
            <th>Status</th>
            <th>Host</th>
            <th>Path</th>
            <th>Type</th>
            <th class="num">Request</th>
            <th class="num">Response</th>
            <th class="num">Took</th>
          </tr>
        </thead>
        <tbody>
          {list.data?.items.map((e) => {
            const { host, path } = place(e.url);
            return (
              <tr
                key={e.id}
                data-exchange-id={e.id}
                class={String(e.id) === values.exchange ? 'selected' : ''}
                onClick={() => go({ exchange: e.id })}
              >
                <td class="mono">{e.id}</td>
                <td>{formatDateTime(e.started_at)}</td>
                <td>{e.method}</td>
                <td>
                  <span class={statusClass(e.status)}>{e.status}</span>
                </td>
                <td>{host}</td>
                <td class="path" title={e.url}>
                  {path}
                </td>
                <td>{e.response_content_type?.split(';')[0] ?? ''}</td>
                <td class="num">{formatBytes(e.request_bytes)}</td>
                <td class="num">
                  {formatBytes(e.response_bytes)}
                  {e.truncated && <span title="a body was cut at the size cap"> ✂</span>}
                </td>
                <td class="num">{formatMillis(e.duration_ms)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {list.data && list.data.items.length === 0 && <p class="empty">No exchanges match.</p>}
      <Pager
        offset={offset}
        limit={LIMIT}
        count={list.data?.items.length ?? 0}
        nextOffset={list.data?.next_offset}
        onChange={(o) => go({ offset: o })}
      />
      {values.exchange && (
        <Detail
          key={values.exchange}
          recordId={recordId}
          exchangeId={values.exchange}
          onClose={() => go({ exchange: undefined })}
        />
      )}
    </Page>
  );
}
