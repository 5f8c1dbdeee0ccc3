import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { DocumentSection, SourceDocument } from '../source-document.js';

const frontMatterSchema = z
  .object({ title: z.coerce.string().optional(), url: z.string().url().optional() })
  .passthrough();

const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;

/**
 * Reads one Markdown file as one document split into sections at its headings. Title and URL come
 * from YAML front matter when present; otherwise the title is the first level-one heading, else
 * `fallbackTitle` (the file name).
 */
export function parseMarkdown(content: string, fallbackTitle: string): SourceDocument {
  const { body, frontMatter } = splitFrontMatter(content);
  const sections: DocumentSection[] = [];
  const headingStack: { level: number; text: string }[] = [];
  let lines: string[] = [];
  let inFence = false;
  let firstTopHeading: string | undefined;

  const flush = () => {
    const text = lines.join('\n').trim();
    if (text !== '') sections.push({ headings: headingStack.map((heading) => heading.text), text });
    lines = [];
  };

  for (const line of body.split(/\r?\n/)) {
    if (FENCE.test(line)) inFence = !inFence;
    const heading = inFence ? null : HEADING.exec(line);
    if (!heading) {
      lines.push(line);
      continue;
    }
    flush();
    const level = heading[1]!.length;
    const text = stripInlineMarkup(heading[2]!);
    if (level === 1 && firstTopHeading === undefined) firstTopHeading = text;
    while (headingStack.length > 0 && headingStack[headingStack.length - 1]!.level >= level) headingStack.pop();
    headingStack.push({ level, text });
  }
  flush();

  const title = frontMatter.title?.trim() || firstTopHeading || fallbackTitle;
  return { documentId: '', title, ...(frontMatter.url ? { url: frontMatter.url } : {}), sections };
}

function splitFrontMatter(content: string): { body: string; frontMatter: z.infer<typeof frontMatterSchema> } {
  const match = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(content);
  if (!match) return { body: content, frontMatter: {} };
  const parsed = frontMatterSchema.safeParse(parseYaml(match[1]!) ?? {});
  if (!parsed.success) throw new Error(`front matter is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ')}`);
  return { body: content.slice(match[0].length), frontMatter: parsed.data };
}

/** Headings become titles shown to users: drop emphasis and link markup, keep the words. */
function stripInlineMarkup(text: string): string {
  return text.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[*_`]/g, '').trim();
}
