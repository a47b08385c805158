// How times, durations and sizes read on every page.

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A point in a video: `1:13.2`, `1:02:03.0`. */
export function formatClock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const tenths = Math.round(seconds * 10);
  const whole = Math.floor(tenths / 10);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = `${pad(whole % 60)}.${tenths % 10}`;
  return h > 0 ? `${h}:${pad(m)}:${s}` : `${m}:${s}`;
}

/** An RFC 3339 time in the viewer's zone: `2026-05-04 13:07:09`. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  return (
    `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ` +
    `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`
  );
}

/** Milliseconds as people read them: `850 ms`, `12.5 s`, `3:04.0`. */
export function formatMillis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatClock(ms / 1000);
}

/** Bytes in binary units: `512 B`, `1.5 KiB`, `2.0 MiB`. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A `YYYY-MM-DD` date input as the RFC 3339 time its day starts at in the viewer's zone;
 * `endOfDay` gives the next day's start, so a range `since..until` holds both days whole. */
export function dayToRfc3339(day: string, endOfDay = false): string | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return undefined;
  const start = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]) + (endOfDay ? 1 : 0));
  return start.toISOString();
}

/** Tags as `key:value` texts. */
export function formatTags(tags: Record<string, unknown> | undefined): string[] {
  return Object.entries(tags ?? {}).map(([k, v]) => `${k}:${typeof v === 'string' ? v : JSON.stringify(v)}`);
}
