import { cleanup, fireEvent, render, screen } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TimelineRow } from '../timeline';
import { TimelineRows, TimelineStrip } from './Timeline';

afterEach(cleanup);

const ROWS: TimelineRow[] = [
  { key: 'action-1', kind: 'action', at: 1.25, detail: 'click_mouse (412, 300) left', source: 'api' },
  {
    key: 'request-4',
    kind: 'request',
    at: 2.5,
    detail: 'GET 200 http://app.test/cart',
    exchange: { recordId: 3, id: 4 },
  },
  { key: 'action-2', kind: 'action', at: 4, detail: 'type_text "hello"', source: 'live_view' },
];

const rowOf = (text: string) => screen.getByText(text).closest('tr')!;

describe('the timeline rows', () => {
  it('show each row’s time, kind and details, and seek to the row clicked', () => {
    const onSeek = vi.fn();
    render(<TimelineRows recordingId="rec-1" rows={ROWS} now={0} onSeek={onSeek} />);
    expect(rowOf('click_mouse (412, 300) left').textContent).toContain('0:01.3');
    expect(rowOf('type_text "hello"').textContent).toContain('action · live view');
    fireEvent.click(rowOf('GET 200 http://app.test/cart'));
    expect(onSeek).toHaveBeenCalledWith(2.5);
    fireEvent.keyDown(rowOf('type_text "hello"'), { key: 'Enter' });
    expect(onSeek).toHaveBeenLastCalledWith(4);
  });

  it('link each row’s time to that moment and a request to its exchange, which does not seek', () => {
    const onSeek = vi.fn();
    render(<TimelineRows recordingId="rec-1" rows={ROWS} now={0} onSeek={onSeek} />);
    expect(screen.getByText('0:02.5').getAttribute('href')).toBe('#/recordings/rec-1?t=2.5');
    const exchange = screen.getByText('exchange #4');
    expect(exchange.getAttribute('href')).toBe('#/traffic/3?exchange=4');
    fireEvent.click(exchange);
    expect(onSeek).not.toHaveBeenCalled();
  });

  it('mark the row the video is at as current, following the video', () => {
    const { rerender } = render(<TimelineRows recordingId="rec-1" rows={ROWS} now={0.5} onSeek={() => {}} />);
    expect(document.querySelector('[aria-current="true"]')).toBeNull();
    rerender(<TimelineRows recordingId="rec-1" rows={ROWS} now={3} onSeek={() => {}} />);
    expect(rowOf('GET 200 http://app.test/cart').getAttribute('aria-current')).toBe('true');
    expect(document.querySelectorAll('[aria-current="true"]')).toHaveLength(1);
    rerender(<TimelineRows recordingId="rec-1" rows={ROWS} now={9} onSeek={() => {}} />);
    expect(rowOf('type_text "hello"').classList.contains('current')).toBe(true);
  });

  it('say so when there is nothing to show', () => {
    render(<TimelineRows recordingId="rec-1" rows={[]} now={0} onSeek={() => {}} />);
    expect(screen.getByText('No actions or requests while this recording ran.')).toBeTruthy();
  });
});

describe('the timeline strip', () => {
  it('places bands and markers on the video’s length and seeks where it is clicked', () => {
    const onSeek = vi.fn();
    render(<TimelineStrip duration={10} bands={[{ start: 1, end: 3 }]} rows={ROWS} now={5} onSeek={onSeek} />);
    const strip = screen.getByLabelText('timeline strip');
    const band = strip.querySelector<HTMLElement>('.band')!;
    expect([band.style.left, band.style.width]).toEqual(['10%', '20%']);
    expect(strip.querySelectorAll('.marker-action')).toHaveLength(2);
    expect(strip.querySelector<HTMLElement>('.marker-request')!.style.left).toBe('25%');
    strip.getBoundingClientRect = () => ({ left: 100, width: 400 }) as DOMRect;
    fireEvent.click(strip, { clientX: 200 });
    expect(onSeek).toHaveBeenCalledWith(2.5);
  });
});
