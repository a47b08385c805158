import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getJson } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  /** Loads again now (the timer, if any, keeps its pace). */
  reload: () => void;
}

/** GETs `path` (again whenever it changes, and every `refreshMs` when given); `null` loads
 * nothing. An answer that arrives after `path` changed is dropped. */
export function useApi<T>(path: string | null, refreshMs?: number): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const current = useRef(path);
  current.current = path;

  const load = useCallback(() => {
    if (path === null) return;
    getJson<T>(path).then(
      (value) => {
        if (current.current !== path) return;
        setData(value);
        setError(undefined);
      },
      (e: Error) => {
        if (current.current === path) setError(e);
      },
    );
  }, [path]);

  useEffect(() => {
    setData(undefined);
    setError(undefined);
    load();
    if (!refreshMs) return undefined;
    const timer = setInterval(load, refreshMs);
    return () => clearInterval(timer);
  }, [load, refreshMs]);

  return { data, error, reload: load };
}

/** The current location hash, following navigation. */
export function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const follow = () => setHash(location.hash);
    addEventListener('hashchange', follow);
    return () => removeEventListener('hashchange', follow);
  }, []);
  return hash;
}
