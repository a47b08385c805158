// The native API (/v1) as the dashboard calls it: the signed-in key as a Bearer token on every
// request, and the paths of the lists with their filters as query strings.

/** Where the API key is kept: this tab only, gone when it closes. */
export const KEY_STORAGE = 'tapedeck.apiKey';

/** A refusal from the API, with its `{code, message}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

let onUnauthorized: (error: ApiError) => void = () => {};

/** Called when the API refuses the stored key (revoked, or the server's data dir changed). */
export function setUnauthorizedHandler(handler: (error: ApiError) => void) {
  onUnauthorized = handler;
}

async function refusal(response: Response): Promise<ApiError> {
  let code = 'error';
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    code = body.code ?? code;
    message = body.message ?? message;
  } catch {
    // Not JSON (a proxy in between, say): the status line says enough.
  }
  return new ApiError(response.status, code, message);
}

/** `fetch` of an API path with the key (a GET unless `init` says otherwise); a refusal throws
 * an {@link ApiError}. */
export async function request(path: string, key = storedKey(), init: RequestInit = {}): Promise<Response> {
  const headers = { ...(init.headers as Record<string, string>), Authorization: `Bearer ${key ?? ''}` };
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) {
    const error = await refusal(response);
    if (error.status === 401) onUnauthorized(error);
    throw error;
  }
  return response;
}

/** GET a JSON document. */
export async function getJson<T>(path: string, key?: string | null): Promise<T> {
  return (await request(path, key)).json();
}

type Param = string | number | boolean | null | undefined;

/** `?a=1&b=x` of the given parameters, leaving out empty ones; `''` when none is left. */
export function query(params: Record<string, Param>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** What the sessions list filters on (server-side). */
export interface SessionFilter {
  kind?: string;
  state?: string;
  name?: string;
  tag?: string;
}

export function sessionsPath(filter: SessionFilter, offset: number, limit: number): string {
  return `/v1/sessions${query({ ...filter, offset, limit })}`;
}

/** What the recordings list filters on; `since`/`until` are RFC 3339 times. */
export interface RecordingFilter {
  name?: string;
  tag?: string;
  since?: string;
  until?: string;
}

export function recordingsPath(filter: RecordingFilter, offset: number, limit: number): string {
  return `/v1/recordings${query({ ...filter, offset, limit })}`;
}

/** What the traffic table filters on: `status` is a code (404) or a class (4xx). */
export interface ExchangeFilter {
  method?: string;
  status?: string;
  host?: string;
  q?: string;
}

export function exchangesPath(
  recordId: number,
  filter: ExchangeFilter,
  offset: number,
  limit: number,
): string {
  const { method, status, host, q } = filter;
  return `/v1/test-records/${recordId}/exchanges${query({
    method: method?.toUpperCase(),
    status: status?.trim(),
    host: host?.trim(),
    q,
    offset,
    limit,
  })}`;
}

/** A time window of the project's traffic (`GET /v1/exchanges`); RFC 3339 times. */
export interface TimeWindow {
  since?: string;
  until?: string;
}

/** A page of the project's exchanges (of every test record) that started in `window`. */
export function projectExchangesPath(window: TimeWindow, offset: number, limit: number): string {
  return `/v1/exchanges${query({ ...window, offset, limit })}`;
}

/** A page of session `id`'s events in `window`, after the previous page's `next_after`. */
export function sessionEventsPath(id: string, window: TimeWindow, after: number | null, limit: number): string {
  return `/v1/sessions/${encodeURIComponent(id)}/events${query({ ...window, after, limit })}`;
}

/** Signed live-view URLs of a running session (`POST /v1/sessions/{id}/live-view`). */
export interface LiveView {
  url: string;
  raw_url: string;
  access: 'read' | 'control';
  expires_at: string;
}

/** Signs live-view URLs for session `id`: `control` drives its mouse and keyboard, `read`
 * only watches. */
export async function createLiveView(id: string, access: 'read' | 'control'): Promise<LiveView> {
  const response = await request(`/v1/sessions/${encodeURIComponent(id)}/live-view`, storedKey(), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ access }),
  });
  return response.json();
}

export interface Page<T> {
  items: T[];
  next_offset: number | null;
}

export interface Session {
  id: string;
  name: string | null;
  kind: string;
  tags: Record<string, unknown>;
  state: string;
  viewport: { width: number; height: number };
  created_at: string;
  deleted_at: string | null;
  end_reason: string | null;
  node: string | null;
}

export interface Recording {
  id: string;
  session_id: string;
  state: string;
  stop_reason: string | null;
  framerate: number;
  started_at: string;
  finished_at: string | null;
  size_bytes: number | null;
  duration_ms: number | null;
  problem: string | null;
  session_name?: string | null;
  session_kind?: string;
  session_tags?: Record<string, unknown>;
}

export interface DownloadUrl {
  url: string;
  expires_at: string;
  size_bytes: number;
}

export interface TestRun {
  id: number;
  test_record_id: number;
  name: string;
  state: string;
  recording: boolean;
  passed_count: number;
  failed_count: number;
  waiting_count: number;
  failures: { baseline_id: number; reason: string }[];
  problem: string | null;
  start_time: string;
  end_time: string | null;
}

export interface TestRecord {
  id: number;
  name: string;
  created_at: string;
  baseline_count: number;
}

export interface Exchange {
  id: number;
  test_record_id: number;
  started_at: string;
  duration_ms: number;
  method: string;
  url: string;
  status: number;
  request_bytes: number;
  response_bytes: number;
  truncated: boolean;
  response_content_type: string | null;
}

/** An input on a session's screen: an API action or a live viewer's, with the fields that
 * apply to it. */
export interface ActionPayload {
  action: string;
  source: 'api' | 'live_view';
  x?: number;
  y?: number;
  button?: string;
  clicks?: number;
  path?: [number, number][];
  dx?: number;
  dy?: number;
  keys?: string[];
  /** Typed or pasted text, its first 200 characters. */
  text?: string;
  /** The whole text's length. */
  chars?: number;
}

/** A stretch in which recording `recording_id`'s screen kept changing, in its video's time. */
export interface ActivityPayload {
  recording_id: string;
  video_ms: number;
  duration_ms: number;
  frames: number;
}

/** One event of a session (`GET /v1/sessions/{id}/events`). */
export type SessionEvent = { id: number; at: string; elapsed_ms: number } & (
  | { kind: 'action'; payload: ActionPayload }
  | { kind: 'activity'; payload: ActivityPayload }
);

/** A page of a session's events; `next_after` is the next page's cursor. */
export interface EventPage {
  items: SessionEvent[];
  next_after: number | null;
}

/** The HAR entry of one exchange: the parts the detail view shows. */
export interface HarEntry {
  request: {
    method: string;
    url: string;
    headers: { name: string; value: string }[];
    postData?: { mimeType: string; text: string; encoding?: string };
  };
  response: {
    status: number;
    statusText: string;
    headers: { name: string; value: string }[];
    content: { mimeType: string; size: number; text?: string; encoding?: string };
  };
}
