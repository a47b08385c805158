import { describe, expect, it } from 'vitest';
import { link, parseHash, parseSeconds, recordingLink } from './route';

describe('deep links', () => {
  it('opens a recording at its time', () => {
    expect(parseHash('#/recordings/rec_abc?t=73.2')).toEqual({ page: 'recording', id: 'rec_abc', t: 73.2 });
  });

  it('ignores a time that is not one', () => {
    for (const t of ['', 'abc', '-1', 'Infinity']) {
      const route = parseHash(`#/recordings/r1?t=${t}`);
      expect(route).toEqual({ page: 'recording', id: 'r1', t: null });
    }
    expect(parseSeconds(null)).toBeNull();
    expect(parseSeconds('0')).toBe(0);
  });

  it('round-trips a recording link at a moment, to a tenth', () => {
    const href = recordingLink('r/1', 73.26);
    expect(href).toBe('#/recordings/r%2F1?t=73.3');
    expect(parseHash(href)).toEqual({ page: 'recording', id: 'r/1', t: 73.3 });
  });

  it('keeps filters in list links and leaves empty ones out', () => {
    const href = link('/traffic/7', { method: 'POST', status: '', host: undefined, q: 'a b', offset: 0 });
    expect(href).toBe('#/traffic/7?method=POST&q=a+b&offset=0');
    const route = parseHash(href);
    expect(route.page).toBe('traffic');
    if (route.page === 'traffic') {
      expect(route.recordId).toBe(7);
      expect(route.params.get('q')).toBe('a b');
    }
  });

  it('opens a session live, in control unless it asks to watch only', () => {
    expect(parseHash('#/sessions/abc/live')).toEqual({ page: 'live', id: 'abc', access: 'control' });
    expect(parseHash('#/sessions/abc/live?access=read')).toEqual({ page: 'live', id: 'abc', access: 'read' });
    expect(parseHash('#/sessions/abc/replay').page).toBe('not-found');
  });

  it('sends the empty hash to sessions and unknown paths to not-found', () => {
    expect(parseHash('').page).toBe('sessions');
    expect(parseHash('#/').page).toBe('sessions');
    expect(parseHash('#/traffic/abc').page).toBe('not-found');
    expect(parseHash('#/traffic/0').page).toBe('not-found');
    expect(parseHash('#/recordings/a/b').page).toBe('not-found');
  });
});
