// Hash routes, so any page (a recording at a moment, a filtered traffic table) is a link:
//   #/sessions?state=all           #/recordings?name=checkout      #/recordings/{id}?t=73.2
//   #/runs                         #/traffic/{record id}?status=4xx&exchange=12
//   #/sessions/{id}/live?access=read

export type Route =
  | { page: 'sessions'; params: URLSearchParams }
  | { page: 'live'; id: string; access: 'read' | 'control' }
  | { page: 'recordings'; params: URLSearchParams }
  | { page: 'recording'; id: string; t: number | null }
  | { page: 'runs'; params: URLSearchParams }
  | { page: 'traffic'; recordId: number; params: URLSearchParams }
  | { page: 'not-found'; path: string };

/** The seconds of a `t` parameter, or null when it is absent or not a time. */
export function parseSeconds(text: string | null): number | null {
  if (text === null || text.trim() === '') return null;
  const seconds = Number(text);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

export function parseHash(hash: string): Route {
  const body = hash.replace(/^#/, '');
  const [path, search = ''] = body.split('?', 2);
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case undefined:
    case 'sessions':
      if (parts.length <= 1) return { page: 'sessions', params };
      if (parts.length === 3 && parts[2] === 'live') {
        return { page: 'live', id: parts[1], access: params.get('access') === 'read' ? 'read' : 'control' };
      }
      break;
    case 'recordings':
      if (parts.length === 1) return { page: 'recordings', params };
      if (parts.length === 2) return { page: 'recording', id: parts[1], t: parseSeconds(params.get('t')) };
      break;
    case 'runs':
      if (parts.length === 1) return { page: 'runs', params };
      break;
    case 'traffic': {
      const recordId = Number(parts[1]);
      if (parts.length === 2 && Number.isInteger(recordId) && recordId > 0) {
        return { page: 'traffic', recordId, params };
      }
      break;
    }
  }
  return { page: 'not-found', path };
}

/** The hash link to `path` with the given parameters (empty ones left out). */
export function link(path: string, params: Record<string, string | number | null | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}

/** The deep link to a recording at `seconds` (to a tenth). */
export function recordingLink(id: string, seconds?: number): string {
  const t = seconds === undefined ? undefined : (Math.round(seconds * 10) / 10).toString();
  return link(`/recordings/${encodeURIComponent(id)}`, { t });
}

/** The parameters of a route as a plain object, for building the next link from them. */
export function paramsObject(params: URLSearchParams): Record<string, string> {
  return Object.fromEntries(params.entries());
}
