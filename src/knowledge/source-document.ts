/** One section of a document: the headings above it (outermost first) and its text. */
export interface DocumentSection {
  headings: string[];
  text: string;
}

/** A document as a parser reads it from a file, before chunking. */
export interface SourceDocument {
  /** Unique within its file: the file itself (`''`) for Markdown and text, the row id for CSV and JSONL. */
  documentId: string;
  title: string;
  url?: string;
  sections: DocumentSection[];
}

/** A retrievable piece of a document. `id` is derived from the source path and position, so it is stable across builds. */
export interface KnowledgeChunk {
  id: string;
  /** The file it came from, relative to where ingestion ran (forward slashes). */
  source: string;
  documentId: string;
  /** Document title, plus the section heading when it adds something. */
  title: string;
  url?: string;
  text: string;
}
