import { useState } from 'preact/hooks';
import { ApiError, getJson, KEY_STORAGE } from '../api';

/** Asks for an API key and keeps it for this tab once the API accepts it. */
export function SignIn(props: { notice?: string; onSignedIn: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>(props.notice);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const candidate = key.trim();
    if (!candidate) {
      setError('Enter an API key.');
      return;
    }
    setBusy(true);
    try {
      // Any authenticated read tells whether the key is active.
      await getJson('/v1/sessions?limit=1', candidate);
      sessionStorage.setItem(KEY_STORAGE, candidate);
      props.onSignedIn();
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? 'That API key was not accepted. Use the key printed at the first start (tapedeck-data/api-key) or one from `tapedeck keys create`.'
          : `Could not reach the server: ${(failure as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <form onSubmit={submit}>
        <h1>Tapedeck</h1>
        <p>Sign in with an API key. You see what its project holds.</p>
        <label>
          <span>API key</span>
          <input
            name="api-key"
            type="password"
            autocomplete="off"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            autofocus
          />
        </label>
        {error && (
          <p class="problem" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
