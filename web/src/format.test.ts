import { describe, expect, it } from 'vitest';
import { dayToRfc3339, formatBytes, formatClock, formatMillis, formatTags } from './format';
import { bodyText } from './har';

describe('formatting', () => {
  it('reads video times as clocks', () => {
    expect(formatClock(0)).toBe('0:00.0');
    expect(formatClock(73.24)).toBe('1:13.2');
    expect(formatClock(59.96)).toBe('1:00.0');
    expect(formatClock(3723)).toBe('1:02:03.0');
    expect(formatClock(Number.NaN)).toBe('–');
  });

  it('reads durations and sizes', () => {
    expect(formatMillis(850)).toBe('850 ms');
    expect(formatMillis(12_500)).toBe('12.5 s');
    expect(formatMillis(184_000)).toBe('3:04.0');
    expect(formatMillis(null)).toBe('–');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(2 * 1024 * 1024)).toBe('2.0 MiB');
  });

  it('turns a day into the range of its local midnights', () => {
    const start = new Date(dayToRfc3339('2026-03-09')!);
    const end = new Date(dayToRfc3339('2026-03-09', true)!);
    expect([start.getFullYear(), start.getMonth(), start.getDate(), start.getHours()]).toEqual([2026, 2, 9, 0]);
    expect([end.getDate(), end.getHours()]).toEqual([10, 0]);
    expect(dayToRfc3339('9.3.2026')).toBeUndefined();
  });

  it('writes tags as key:value', () => {
    expect(formatTags({ suite: 'smoke', retries: 2 })).toEqual(['suite:smoke', 'retries:2']);
  });

  it('shows a base64 body as text when it is text, and binary as a note', () => {
    expect(bodyText(btoa('{"ok":true}'), 'base64')).toBe('{"ok":true}');
    expect(bodyText('plain', undefined)).toBe('plain');
    expect(bodyText(btoa('\u00ff\u00fe\u0000'), 'base64')).toBe('(3 bytes of binary data)');
  });
});
