import type { SourceDocument } from '../source-document.js';

/** Reads a plain text file as one document with one section; the file name is the title. */
export function parsePlainText(content: string, fallbackTitle: string): SourceDocument {
  const text = content.replace(/^\uFEFF/, '').trim();
  return { documentId: '', title: fallbackTitle, sections: text === '' ? [] : [{ headings: [], text }] };
}
