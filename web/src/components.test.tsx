import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/preact';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Filters, Pager } from './components';
import { KEY_STORAGE } from './api';
import { SignIn } from './pages/SignIn';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe('the pager', () => {
  it('cannot go back from the first page and goes forward to the next offset', () => {
    const onChange = vi.fn();
    render(<Pager offset={0} limit={20} count={20} nextOffset={20} onChange={onChange} />);
    expect(screen.getByText('← Previous').hasAttribute('disabled')).toBe(true);
    expect(screen.getByText('1–20')).toBeTruthy();
    fireEvent.click(screen.getByText('Next →'));
    expect(onChange).toHaveBeenCalledWith(20);
  });

  it('stops at the last page and goes back by a page', () => {
    const onChange = vi.fn();
    render(<Pager offset={40} limit={20} count={3} nextOffset={null} onChange={onChange} />);
    expect(screen.getByText('Next →').hasAttribute('disabled')).toBe(true);
    expect(screen.getByText('41–43')).toBeTruthy();
    fireEvent.click(screen.getByText('← Previous'));
    expect(onChange).toHaveBeenCalledWith(20);
  });
});

describe('the filters', () => {
  it('apply typed text on submit and a select at once', () => {
    const onApply = vi.fn();
    render(
      <Filters
        fields={[
          { name: 'method', label: 'Method', options: [['', 'any'], ['POST', 'POST']] },
          { name: 'status', label: 'Status' },
        ]}
        values={{ method: '', status: '' }}
        onApply={onApply}
      />,
    );
    fireEvent.input(screen.getByLabelText('Status'), { target: { value: '4xx' } });
    expect(onApply).not.toHaveBeenCalled();
    fireEvent.click(screen.getByText('Apply'));
    expect(onApply).toHaveBeenLastCalledWith({ method: '', status: '4xx' });
    fireEvent.change(screen.getByLabelText('Method'), { target: { value: 'POST' } });
    expect(onApply).toHaveBeenLastCalledWith({ method: 'POST', status: '4xx' });
  });
});

describe('sign-in', () => {
  it('keeps a key the API accepts, for this tab only', async () => {
    vi.stubGlobal('fetch', async () => new Response('{"items":[],"next_offset":null}'));
    const onSignedIn = vi.fn();
    render(<SignIn onSignedIn={onSignedIn} />);
    fireEvent.input(screen.getByLabelText('API key'), { target: { value: ' good-key ' } });
    fireEvent.click(screen.getByText('Sign in'));
    await waitFor(() => expect(onSignedIn).toHaveBeenCalled());
    expect(sessionStorage.getItem(KEY_STORAGE)).toBe('good-key');
  });

  it('says so when the key is wrong, and keeps nothing', async () => {
    vi.stubGlobal('fetch', async () => new Response('{"code":"unauthorized","message":"no"}', { status: 401 }));
    const onSignedIn = vi.fn();
    render(<SignIn onSignedIn={onSignedIn} />);
    fireEvent.input(screen.getByLabelText('API key'), { target: { value: 'wrong' } });
    fireEvent.click(screen.getByText('Sign in'));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('not accepted');
    expect(onSignedIn).not.toHaveBeenCalled();
    expect(sessionStorage.getItem(KEY_STORAGE)).toBeNull();
  });
});
