import { useEffect, useState } from 'preact/hooks';
import { KEY_STORAGE, setUnauthorizedHandler, storedKey } from './api';
import { useHash } from './hooks';
import { Live } from './pages/Live';
import { Player } from './pages/Player';
import { Recordings } from './pages/Recordings';
import { Runs } from './pages/Runs';
import { Sessions } from './pages/Sessions';
import { SignIn } from './pages/SignIn';
import { Traffic } from './pages/Traffic';
import { parseHash, type Route } from './route';

const NAV: [Route['page'], string, string][] = [
  ['sessions', 'Sessions', '#/sessions'],
  ['recordings', 'Recordings', '#/recordings'],
  ['runs', 'Test runs', '#/runs'],
];

function Body(props: { route: Route }) {
  const { route } = props;
  switch (route.page) {
    case 'sessions':
      return <Sessions params={route.params} />;
    case 'live':
      return <Live id={route.id} access={route.access} />;
    case 'recordings':
      return <Recordings params={route.params} />;
    case 'recording':
      return <Player id={route.id} t={route.t} />;
    case 'runs':
      return <Runs params={route.params} />;
    case 'traffic':
      return <Traffic recordId={route.recordId} params={route.params} />;
    case 'not-found':
      return (
        <p class="empty">
          No page at <span class="mono">{route.path}</span>. <a href="#/sessions">Sessions</a>
        </p>
      );
  }
}

export function App() {
  const [signedIn, setSignedIn] = useState(storedKey() !== null);
  const [notice, setNotice] = useState<string>();
  const route = parseHash(useHash());

  useEffect(() => {
    setUnauthorizedHandler(() => {
      sessionStorage.removeItem(KEY_STORAGE);
      setNotice('The server no longer accepts this API key: sign in again.');
      setSignedIn(false);
    });
  }, []);

  if (!signedIn) return <SignIn notice={notice} onSignedIn={() => setSignedIn(true)} />;
  const current =
    route.page === 'recording' ? 'recordings' : route.page === 'traffic' ? 'runs' : route.page === 'live' ? 'sessions' : route.page;
  return (
    <>
      <header class="top">
        <span class="brand">Tapedeck</span>
        <nav>
          {NAV.map(([page, label, href]) => (
            <a key={page} href={href} class={current === page ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="link sign-out"
          onClick={() => {
            sessionStorage.removeItem(KEY_STORAGE);
            setNotice(undefined);
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <main>
        <Body route={route} />
      </main>
    </>
  );
}
