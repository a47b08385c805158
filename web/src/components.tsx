import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/** Previous/next over a server-side list read `limit` at a time from `offset`. */
export function Pager(props: {
  offset: number;
  limit: number;
  count: number;
  nextOffset: number | null | undefined;
  onChange: (offset: number) => void;
}) {
  const { offset, limit, count, nextOffset, onChange } = props;
  const first = count === 0 ? 0 : offset + 1;
  return (
    <nav class="pager" aria-label="pages">
      <button type="button" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>
        ← Previous
      </button>
      <span class="pager-range">{count === 0 ? 'none' : `${first}–${offset + count}`}</span>
      <button
        type="button"
        disabled={nextOffset === null || nextOffset === undefined}
        onClick={() => nextOffset !== null && nextOffset !== undefined && onChange(nextOffset)}
      >
        Next →
      </button>
    </nav>
  );
}

export interface Field {
  name: string;
  label: string;
  placeholder?: string;
  /** A select's options as `[value, label]`; a text input without. */
  options?: [string, string][];
  type?: 'text' | 'date';
}

/** A row of filters, applied together on submit (or at once for a select). */
export function Filters(props: {
  fields: Field[];
  values: Record<string, string>;
  onApply: (values: Record<string, string>) => void;
}) {
  const [draft, setDraft] = useState<Record<string, string>>(props.values);
  const set = (name: string, value: string) => setDraft({ ...draft, [name]: value });
  return (
    <form
      class="filters"
      onSubmit={(e) => {
        e.preventDefault();
        props.onApply(draft);
      }}
    >
      {props.fields.map((field) => (
        <label key={field.name}>
          <span>{field.label}</span>
          {field.options ? (
            <select
              name={field.name}
              value={draft[field.name] ?? ''}
              onChange={(e) => {
                const next = { ...draft, [field.name]: e.currentTarget.value };
                setDraft(next);
                props.onApply(next);
              }}
            >
              {field.options.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          ) : field.type === 'date' ? (
            <input
              name={field.name}
              type="date"
              value={draft[field.name] ?? ''}
              onInput={(e) => set(field.name, e.currentTarget.value)}
            />
          ) : (
            <input
              name={field.name}
              type="text"
              placeholder={field.placeholder}
              value={draft[field.name] ?? ''}
              onInput={(e) => set(field.name, e.currentTarget.value)}
            />
          )}
        </label>
      ))}
      <button type="submit">Apply</button>
    </form>
  );
}

/** The error of a failed load, in words. */
export function Problem(props: { error: Error | undefined }) {
  if (!props.error) return null;
  return (
    <p class="problem" role="alert">
      {props.error.message}
    </p>
  );
}

export function StateBadge(props: { state: string }) {
  return <span class={`badge badge-${props.state}`}>{props.state.replace('_', ' ')}</span>;
}

export function Page(props: { title: string; children: ComponentChildren; aside?: ComponentChildren }) {
  return (
    <section class="page">
      <header class="page-head">
        <h1>{props.title}</h1>
        {props.aside}
      </header>
      {props.children}
    </section>
  );
}
