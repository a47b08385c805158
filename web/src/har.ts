import { request } from './api';

/** Downloads a test record's HAR export. The API wants the key in a header, which a plain link
 * cannot send, so the file is fetched and handed to the browser as a blob. */
export async function downloadHar(recordId: number, redact: boolean): Promise<void> {
  const response = await request(`/v1/test-records/${recordId}/har${redact ? '' : '?redact=false'}`);
  const url = URL.createObjectURL(await response.blob());
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = `test-record-${recordId}.har`;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** A HAR body as text to show: base64 decoded when it is text after all, else a note. */
export function bodyText(text: string | undefined, encoding: string | undefined): string {
  if (text === undefined || text === '') return '';
  if (encoding !== 'base64') return text;
  try {
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return `(${Math.floor((text.length * 3) / 4)} bytes of binary data)`;
  }
}
