import type { Doc } from '../providers/types.js';

/**
 * The documents given to the model in one answer, each under a short alias (`doc-1`, `doc-2`, …).
 * Aliases keep citation tags simple whatever the real ids look like (`guide/setup.md#3`), and the
 * registry is the single truth of "what the model was shown": a citation of anything else is unknown.
 */
export class DocumentRegistry {
  private readonly byAlias = new Map<string, Doc>();
  private readonly aliasById = new Map<string, string>();

  /** Registers a document (once per id) and returns its alias and whether it was new. */
  register(doc: Doc): { alias: string; isNew: boolean } {
    const existing = this.aliasById.get(doc.id);
    if (existing) return { alias: existing, isNew: false };
    const alias = `doc-${this.byAlias.size + 1}`;
    this.byAlias.set(alias, doc);
    this.aliasById.set(doc.id, alias);
    return { alias, isNew: true };
  }

  /**
   * The document behind a citation tag. Accepts the alias as given (`doc-3`) and the forms models
   * drift into (`doc3`, `DOC-3`); anything else is unknown.
   */
  resolve(tagId: string): Doc | undefined {
    const exact = this.byAlias.get(tagId);
    if (exact) return exact;
    const numbered = /^doc-?(\d+)$/i.exec(tagId.trim());
    return numbered ? this.byAlias.get(`doc-${Number(numbered[1])}`) : undefined;
  }

  /** The alias of a document already registered, by its real id. */
  resolveById(id: string): string | undefined {
    return this.aliasById.get(id);
  }

  get size(): number {
    return this.byAlias.size;
  }

  documents(): Doc[] {
    return [...this.byAlias.values()];
  }
}
