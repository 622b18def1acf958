"""A small, safe Markdown renderer for experiment notes.

Safety comes from the order of work: the whole text is HTML-escaped first, so nothing a user writes can
become a tag or an attribute; only then is a limited Markdown subset turned into a fixed set of tags
(p, h3-h6, ul/ol/li, blockquote, pre/code, code, strong, em, del, a, br, hr). Links keep only http(s),
mailto, site-relative paths and fragments; anything else (``javascript:``, ``data:``, ...) stays plain text.
No raw HTML passes through. The project ships no Markdown package, and this subset is all notes need.
"""
from __future__ import annotations

import html
import re

from django.utils.safestring import SafeString, mark_safe

#: link targets that are allowed, checked on the unescaped URL with whitespace and control characters removed
_SAFE_URL = re.compile(r"^(?:https?://|mailto:|/(?!/)|#)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_TOKEN = "\x00{}\x00"
_TOKEN_RE = re.compile(r"\x00(\d+)\x00")

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_UL = re.compile(r"^ {0,3}[-*+][ \t]+(.*)$")
_OL = re.compile(r"^ {0,3}\d{1,9}[.)][ \t]+(.*)$")
_QUOTE = re.compile(r"^ {0,3}&gt;[ \t]?(.*)$")  # '>' is already escaped when blocks are read

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
_AUTOLINK = re.compile(r"&lt;((?:https?://|mailto:)[^\s&]+)&gt;", re.IGNORECASE)
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.DOTALL)
_EM = re.compile(r"(?<![\w*])([*_])(?=\S)(.+?)(?<=\S)\1(?![\w*])", re.DOTALL)
_DEL = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~", re.DOTALL)


def safe_url(escaped_url: str) -> str | None:
    """The URL (still escaped, fit for an attribute) if its scheme is allowed, else None."""
    plain = _CONTROL.sub("", html.unescape(escaped_url))
    if not _SAFE_URL.match(plain):
        return None
    return html.escape(plain, quote=True)


def _inline(text: str) -> str:
    """Inline Markdown on already-escaped text: code spans first (nothing inside them is formatted)."""
    stash: list[str] = []

    def keep(fragment: str) -> str:
        stash.append(fragment)
        return _TOKEN.format(len(stash) - 1)

    text = _CODE_SPAN.sub(lambda m: keep(f"<code>{m.group(2).strip()}</code>"), text)

    def link(m: re.Match[str]) -> str:
        url = safe_url(m.group(2))
        label = m.group(1)
        if url is None:
            return keep(m.group(0))  # shown as typed, never as a link
        return keep(f'<a href="{url}" rel="nofollow noopener noreferrer">') + label + keep("</a>")

    text = _LINK.sub(link, text)
    text = _AUTOLINK.sub(lambda m: keep(f'<a href="{safe_url(m.group(1))}" rel="nofollow noopener noreferrer">'
                                        f"{m.group(1)}</a>") if safe_url(m.group(1)) else m.group(0), text)
    text = _STRONG.sub(r"<strong>\2</strong>", text)
    text = _EM.sub(r"<em>\2</em>", text)
    text = _DEL.sub(r"<del>\1</del>", text)
    text = re.sub(r"(?: {2,}|\\)\n", "<br>\n", text)  # hard line breaks
    while _TOKEN_RE.search(text):
        text = _TOKEN_RE.sub(lambda m: stash[int(m.group(1))], text)
    return text


def _paragraph(lines: list[str]) -> str:
    return "<p>" + _inline("\n".join(line.lstrip() for line in lines).rstrip()) + "</p>"


def _blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append(_paragraph(para))
            para.clear()

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end of the text)
            out.append("<pre><code>" + "\n".join(body) + "</code></pre>")
            continue
        if not line.strip():
            flush()
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = min(6, len(heading.group(1)) + 2)  # notes sit under the page's h1/h2: # becomes h3
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        if _HR.match(line):
            flush()
            out.append("<hr>")
            i += 1
            continue
        if _QUOTE.match(line):
            flush()
            quoted: list[str] = []
            while i < len(lines) and _QUOTE.match(lines[i]):
                quoted.append(_QUOTE.match(lines[i]).group(1))  # type: ignore[union-attr]
                i += 1
            out.append("<blockquote>" + "".join(_blocks(quoted)) + "</blockquote>")
            continue
        for pattern, tag in ((_UL, "ul"), (_OL, "ol")):
            if pattern.match(line):
                flush()
                items: list[list[str]] = []
                while i < len(lines) and lines[i].strip():
                    item = pattern.match(lines[i])
                    if item:
                        items.append([item.group(1)])
                    elif items and lines[i].startswith((" ", "\t")):
                        items[-1].append(lines[i].strip())  # a continuation line of the item
                    else:
                        break
                    i += 1
                out.append(f"<{tag}>" + "".join("<li>" + _inline("\n".join(it)) + "</li>" for it in items) + f"</{tag}>")
                break
        else:
            para.append(line)
            i += 1
    flush()
    return out


def render_markdown(text: str | None) -> SafeString:
    """Notes as safe HTML. Every character of ``text`` is escaped before any tag is made."""
    if not text:
        return mark_safe("")
    escaped = html.escape(text.replace("\x00", ""), quote=True)
    lines = escaped.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return mark_safe("\n".join(_blocks(lines)))
