/**
 * Lines from a text stream, a chunk's worth at a time, split as readline
 * does (\n, \r\n or a lone \r; a final line needs no newline). Both the
 * reader and the benchmark's parse floor use it, so the floor is measured
 * with the same line reader.
 */
import type { Readable } from 'node:stream';

export async function* readLines(input: Readable): AsyncGenerator<string[]> {
  let rest = '';
  for await (const chunk of input) {
    const text = rest + (typeof chunk === 'string' ? chunk : String(chunk));
    // A chunk ending in \r may be the first half of \r\n: keep it for the next one.
    let end = text.length;
    if (text.charCodeAt(end - 1) === 13) end--;
    const cut = Math.max(text.lastIndexOf('\n', end - 1), text.lastIndexOf('\r', end - 1));
    if (cut < 0) {
      rest = text;
      continue;
    }
    rest = text.slice(cut + 1);
    const body = text.slice(0, text.charCodeAt(cut) === 13 || text.charCodeAt(cut - 1) !== 13 ? cut : cut - 1);
    yield body.includes('\r') ? body.split(/\r\n|\r|\n/) : body.split('\n');
  }
  if (rest.length > 0) yield rest.includes('\r') ? rest.replace(/\r$/, '').split(/\r\n|\r|\n/) : [rest];
}
