/**
 * Markdown -> HTML for the chat webview, safe by construction.
 *
 * Model output is untrusted text: raw HTML is escaped (markdown-it `html:
 * false`), links keep only http(s)/mailto targets, and images become their alt
 * text so nothing is fetched (the CSP would block it anyway; this keeps the
 * view from showing broken images). Rendering happens in the extension host,
 * so the webview runs no parser and receives finished, sanitized HTML.
 */
import MarkdownIt from "markdown-it";

const SAFE_LINK = /^(https?:|mailto:)/i;

/** Whether a link target may be opened (after a click) outside the editor. */
export function isSafeLink(href: string): boolean {
  return SAFE_LINK.test(href.trim());
}

function createRenderer(): MarkdownIt {
  const md = new MarkdownIt({ html: false, linkify: true, typographer: false, breaks: false });
  // Everything but http(s)/mailto is dropped: javascript:, data:, file:,
  // command: and vscode: URIs could act on the user's machine from a click.
  md.validateLink = (url: string) => isSafeLink(url);
  // Only explicit URLs become links: "fuzzy" linkify turns file names such as
  // a.py (".py" is a TLD) into web links.
  md.linkify.set({ fuzzyLink: false, fuzzyEmail: false });
  md.renderer.rules.image = (tokens, idx) => {
    const alt = tokens[idx].content;
    return md.utils.escapeHtml(alt ? `[image: ${alt}]` : "[image]");
  };
  const defaultLinkOpen =
    md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    // The webview intercepts clicks on these and asks the extension to open them.
    tokens[idx].attrSet("data-orion-link", "1");
    tokens[idx].attrSet("rel", "noopener noreferrer");
    return defaultLinkOpen(tokens, idx, options, env, self);
  };
  return md;
}

let renderer: MarkdownIt | undefined;

export function renderMarkdown(text: string): string {
  renderer ??= createRenderer();
  return renderer.render(text);
}
