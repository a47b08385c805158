import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, createLiveView, exchangesPath, getJson, KEY_STORAGE, query, recordingsPath, sessionsPath, setUnauthorizedHandler } from './api';

/** The error a request fails with; a request that succeeds fails the test. */
function refusal(promise: Promise<unknown>): Promise<ApiError> {
  return promise.then(
    () => {
      throw new Error('the request succeeded');
    },
    (e: ApiError) => e,
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe('query strings', () => {
  it('leave out empty parameters', () => {
    expect(query({ a: '', b: undefined, c: null })).toBe('');
    expect(query({ a: 0, b: false, c: 'x' })).toBe('?a=0&b=false&c=x');
  });

  it('build the traffic filter the exchanges endpoint reads', () => {
    expect(exchangesPath(12, { method: 'post', status: ' 4xx ', host: 'app.test:8000', q: 'sku=A&1' }, 50, 50)).toBe(
      '/v1/test-records/12/exchanges?method=POST&status=4xx&host=app.test%3A8000&q=sku%3DA%261&offset=50&limit=50',
    );
    expect(exchangesPath(3, {}, 0, 50)).toBe('/v1/test-records/3/exchanges?offset=0&limit=50');
  });

  it('build the session and recording searches', () => {
    expect(sessionsPath({ kind: 'browser', state: 'all', name: '', tag: 'suite:smoke' }, 20, 20)).toBe(
      '/v1/sessions?kind=browser&state=all&tag=suite%3Asmoke&offset=20&limit=20',
    );
    expect(recordingsPath({ name: 'checkout', since: '2026-05-01T00:00:00.000Z' }, 0, 20)).toBe(
      '/v1/recordings?name=checkout&since=2026-05-01T00%3A00%3A00.000Z&offset=0&limit=20',
    );
  });
});

describe('requests', () => {
  it('send the signed-in key as a Bearer token', async () => {
    sessionStorage.setItem(KEY_STORAGE, 'k-123');
    const fetch = vi.fn(async () => new Response('{"items":[]}', { status: 200 }));
    vi.stubGlobal('fetch', fetch);
    expect(await getJson('/v1/sessions')).toEqual({ items: [] });
    expect(fetch).toHaveBeenCalledWith('/v1/sessions', { headers: { Authorization: 'Bearer k-123' } });
  });

  it('turn a refusal into an ApiError and report a refused key', async () => {
    const refused = vi.fn();
    setUnauthorizedHandler(refused);
    const body = JSON.stringify({ code: 'unauthorized', message: 'missing or invalid API key' });
    vi.stubGlobal('fetch', async () => new Response(body, { status: 401 }));
    const error = await refusal(getJson('/v1/sessions', 'wrong'));
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.code, error.message]).toEqual([401, 'unauthorized', 'missing or invalid API key']);
    expect(refused).toHaveBeenCalledOnce();
  });

  it('read a refusal without a JSON body from its status', async () => {
    vi.stubGlobal('fetch', async () => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    const error = await refusal(getJson('/v1/sessions', 'k'));
    expect([error.status, error.message]).toEqual([502, '502 Bad Gateway']);
  });
});

describe('live view', () => {
  it('signs URLs with a POST carrying the access asked for and the key', async () => {
    sessionStorage.setItem(KEY_STORAGE, 'td_key');
    const fetch = vi.fn(async () => new Response(JSON.stringify({ url: 'u', raw_url: 'r', access: 'read', expires_at: 'e' }), { status: 201 }));
    vi.stubGlobal('fetch', fetch);
    const view = await createLiveView('s/1', 'read');
    expect(view.raw_url).toBe('r');
    const [path, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe('/v1/sessions/s%2F1/live-view');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({ access: 'read' });
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer td_key');
  });
});
