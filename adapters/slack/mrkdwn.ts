/**
 * Slack mrkdwn building blocks. Everything a model, a document or a user wrote passes through
 * `escapeMrkdwn` before it is placed in a message; only the tokens built here (links) contain a raw
 * `<` or `>`, so nothing untrusted can become a mention, a broadcast or a link Slack would render.
 */

/** Escapes the three characters Slack treats as control characters in mrkdwn (and nothing else). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const MAX_LABEL_LENGTH = 150;
const MAX_URL_LENGTH = 2_000;

/**
 * `text` cut to at most `maxChars` UTF-16 units with `…` marking the cut, never between the two
 * halves of a surrogate pair (Slack's form encoding turns a lone half into a stray symbol).
 */
export function clipText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let cut = Math.max(0, maxChars - 1);
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}…`;
}

/**
 * A link label Slack will not misparse: no line breaks, no `|` (it ends the URL part), control
 * characters escaped, bounded in length.
 */
export function sanitiseLinkLabel(label: string, maxLength = MAX_LABEL_LENGTH): string {
  const flattened = label
    .replace(/[\r\n\t\u2028\u2029]+/g, ' ')
    .replace(/\|/g, '¦')
    .replace(/\s{2,}/g, ' ')
    .trim();
  const bounded = flattened.length > maxLength ? `${clipText(flattened, maxLength).slice(0, -1).trimEnd()}…` : flattened;
  return escapeMrkdwn(bounded);
}

/**
 * The URL part of a link, or undefined when the value is not a plain http(s) URL (a `javascript:`
 * or `slack://` value from a document must never become clickable).
 */
export function safeLinkUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  // URL serialisation already percent-encodes spaces, quotes and angle brackets; `|` survives it.
  const serialised = parsed.toString().replace(/\|/g, '%7C').replace(/&/g, '&amp;');
  return serialised.length > MAX_URL_LENGTH ? undefined : serialised;
}

/** `<url|label>` when the URL is safe, else the label alone. `label` must already be mrkdwn-safe. */
export function mrkdwnLink(url: string | undefined, safeLabel: string): string {
  const safeUrl = safeLinkUrl(url);
  if (!url || !safeUrl) return safeLabel;
  // A document title that reads as a different address would show one site and open another: show both instead.
  if (namesOtherHost(safeLabel, url)) return `${safeLabel} (<${safeUrl}>)`;
  return `<${safeUrl}|${safeLabel}>`;
}

/**
 * Turns common standard-Markdown constructs a model writes (`**bold**`, `# heading`, `[label](url)`,
 * `- item`) into mrkdwn. Input must already be escaped; fenced code and inline code are left as they are.
 */
export function markdownToMrkdwn(escaped: string): string {
  const lines = escaped.split('\n');
  let insideFence = false;
  return lines
    .map((line) => {
      if (/^\s*```/.test(line)) {
        insideFence = !insideFence;
        return line;
      }
      if (insideFence) return line;
      return convertLine(line);
    })
    .join('\n');
}

function convertLine(line: string): string {
  // Split on inline code spans so their content is never rewritten.
  const segments = line.split(/(`[^`\n]*`)/);
  const converted = segments.map((segment, index) => (index % 2 === 1 ? segment : convertProse(segment)));
  let result = converted.join('');
  const heading = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(result);
  if (heading?.[1]) result = `*${heading[1].replace(/\*/g, '')}*`;
  result = result.replace(/^(\s*)[-*+]\s+/, '$1• ');
  return result;
}

function convertProse(text: string): string {
  return text
    .replace(/\*\*(?=\S)([^*\n]+?)(?<=\S)\*\*/g, '*$1*')
    .replace(/__(?=\S)([^_\n]+?)(?<=\S)__/g, '_$1_')
    .replace(/~~(?=\S)([^~\n]+?)(?<=\S)~~/g, '~$1~')
    .replace(/\[([^\]\n]{1,300})\]\(([^()\s]{1,2000})\)/g, (whole, label: string, url: string) => {
      // The text is escaped already; undo it for URL parsing, then re-encode through safeLinkUrl.
      const target = url.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
      const safeUrl = safeLinkUrl(target);
      if (!safeUrl) return whole;
      // A label that reads as a different address would show one site and open another: show both instead.
      if (namesOtherHost(label, target)) return `${label} (<${safeUrl}>)`;
      return `<${safeUrl}|${label.replace(/\|/g, '¦')}>`;
    });
}

const ADDRESS_LIKE = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:[\w-]+\.)+[a-z]{2,}(?::\d+)?(?:[/?#]\S*)?$/i;

/** Whether a link label looks like a web address whose host differs from the link's real target. */
function namesOtherHost(label: string, url: string): boolean {
  const text = label.trim().replace(/&amp;/g, '&');
  if (!ADDRESS_LIKE.test(text)) return false;
  const host = (address: string) => {
    try {
      return new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `https://${address}`).hostname.toLowerCase();
    } catch {
      return undefined;
    }
  };
  const shown = host(text);
  return shown === undefined || shown !== host(url);
}
