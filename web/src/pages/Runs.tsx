import { useState } from 'preact/hooks';
import type { Page as ApiPage, TestRecord, TestRun } from '../api';
import { Page, Pager, Problem, StateBadge } from '../components';
import { formatDateTime } from '../format';
import { downloadHar } from '../har';
import { useApi } from '../hooks';
import { link, paramsObject } from '../route';

const LIMIT = 20;

export function Runs(props: { params: URLSearchParams }) {
  const values = paramsObject(props.params);
  const runsOffset = Number(values.runs ?? 0) || 0;
  const recordsOffset = Number(values.records ?? 0) || 0;
  const runs = useApi<ApiPage<TestRun>>(`/v1/test-runs?limit=${LIMIT}&offset=${runsOffset}`, 3000);
  const records = useApi<ApiPage<TestRecord>>(`/v1/test-records?limit=${LIMIT}&offset=${recordsOffset}`, 3000);
  const [harError, setHarError] = useState<Error>();
  const go = (next: Record<string, number>) => (location.hash = link('/runs', { ...values, ...next }));
  return (
    <Page title="Test runs">
      <Problem error={runs.error} />
      <table class="list" aria-label="test runs">
        <thead>
          <tr>
            <th>Run</th>
            <th>Name</th>
            <th>State</th>
            <th class="num">Passed</th>
            <th class="num">Failed</th>
            <th class="num">Waiting</th>
            <th>Failures</th>
            <th>Started</th>
            <th>Ended</th>
            <th>Record</th>
          </tr>
        </thead>
        <tbody>
          {runs.data?.items.map((run) => (
            <tr key={run.id}>
              <td class="mono">{run.id}</td>
              <td>{run.name}</td>
              <td>
                <StateBadge state={run.state} />
                {run.recording && <span class="badge badge-recording">recording</span>}
                {run.problem && <div class="muted">{run.problem}</div>}
              </td>
              <td class="num">{run.passed_count}</td>
              <td class="num">{run.failed_count}</td>
              <td class="num">{run.waiting_count}</td>
              <td>
                {run.failures.map((f) => (
                  <div key={f.baseline_id}>
                    <a href={link(`/traffic/${run.test_record_id}`, { exchange: f.baseline_id })}>#{f.baseline_id}</a>{' '}
                    {f.reason}
                  </div>
                ))}
              </td>
              <td>{formatDateTime(run.start_time)}</td>
              <td>{formatDateTime(run.end_time)}</td>
              <td>
                <a href={link(`/traffic/${run.test_record_id}`)}>record {run.test_record_id}</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {runs.data && runs.data.items.length === 0 && <p class="empty">No test runs yet.</p>}
      <Pager
        offset={runsOffset}
        limit={LIMIT}
        count={runs.data?.items.length ?? 0}
        nextOffset={runs.data?.next_offset}
        onChange={(o) => go({ runs: o })}
      />

      <h2>Test records</h2>
      <Problem error={records.error ?? harError} />
      <table class="list" aria-label="test records">
        <thead>
          <tr>
            <th>Record</th>
            <th>Name</th>
            <th class="num">Baselines</th>
            <th>Created</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          {records.data?.items.map((record) => (
            <tr key={record.id}>
              <td class="mono">{record.id}</td>
              <td>{record.name}</td>
              <td class="num">{record.baseline_count}</td>
              <td>{formatDateTime(record.created_at)}</td>
              <td>
                <a href={link(`/traffic/${record.id}`)}>traffic</a> ·{' '}
                <button type="button" class="link" onClick={() => downloadHar(record.id, true).catch(setHarError)}>
                  HAR
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {records.data && records.data.items.length === 0 && <p class="empty">No test records yet.</p>}
      <Pager
        offset={recordsOffset}
        limit={LIMIT}
        count={records.data?.items.length ?? 0}
        nextOffset={records.data?.next_offset}
        onChange={(o) => go({ records: o })}
      />
    </Page>
  );
}
