import { describe, expect, it } from 'vitest';
import { thumbnailPath } from './thumbnail';

describe('thumbnailPath', () => {
  it('asks for the session by its escaped id at the wall width unless told', () => {
    expect(thumbnailPath('a b')).toBe('/v1/sessions/a%20b/thumbnail?width=320');
    expect(thumbnailPath('s1', 640)).toBe('/v1/sessions/s1/thumbnail?width=640');
  });
});
