"""The HTML verification report: one self-contained page an admin reads in a browser.

Written for :func:`signsvc.verify.reports.write_report`. The page has no script and loads
nothing: inline CSS only, and a Content-Security-Policy that forbids everything else,
so that even a mistake in escaping could not run code or call out. Every value from a
document (field names, certificate names, file names, reasons) is attacker-controlled
and goes through :func:`html.escape`.

Documents needing attention (failed, indeterminate, unsigned, unreadable) come first,
expanded; passed documents follow, each collapsed in a ``<details>``. That takes two
passes over the documents, never a list of them.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from signsvc._time import VIETNAM_TIME

__all__ = ["category", "not_checked", "vn_time", "write_html"]
"""Vietnam time, for display only (results are UTC)."""

_CATEGORIES: dict[str, tuple[str, str]] = {
    # key in summary / document category -> (CSS class, bilingual label)
    "TOTAL-PASSED": ("passed", "Hợp lệ / Valid"),
    "TOTAL-FAILED": ("failed", "Không hợp lệ / Failed"),
    "INDETERMINATE": ("indeterminate", "Chưa xác định / Indeterminate"),
    "unsigned": ("unsigned", "Không có chữ ký / Unsigned"),
    "error": ("error", "Không đọc được / Error"),
}

_NOT_CHECKED = "chưa kiểm tra thu hồi / not checked for revocation"
"""The badge of a signature (and a passed document) that passed without any
revocation status: soft-fail without usable CRL/OCSP data, or revocation off."""

_CSS = """
:root{--passed:#1a7f37;--failed:#cf222e;--indeterminate:#b7791f;--grey:#6e7781}
*{box-sizing:border-box}
body{font:14px/1.45 "Liberation Sans",Arial,"Segoe UI",sans-serif;color:#1f2328;
margin:0 auto;padding:16px 24px;max-width:1400px;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:24px 0 8px;
border-bottom:1px solid #d0d7de;padding-bottom:4px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0 0 12px}
dl.meta dt{color:var(--grey)}dl.meta dd{margin:0}dl.meta ul{margin:0;padding-left:18px}
.summary{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 4px}
.count{display:block;min-width:150px;padding:8px 14px;border-radius:6px;color:#fff;
text-decoration:none}
.count b{display:block;font-size:26px;line-height:1.1}.count span{font-size:13px}
.passed{--c:var(--passed)}.failed{--c:var(--failed)}
.indeterminate{--c:var(--indeterminate)}.unsigned,.error,.other{--c:var(--grey)}
.count{background:var(--c)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;background:var(--c);
color:#fff;font-size:12px;font-weight:bold;white-space:nowrap}
article{border:1px solid #d0d7de;border-left:6px solid var(--c);border-radius:4px;
margin:8px 0;padding:6px 10px}
summary{cursor:pointer}summary .path{font-weight:bold;word-break:break-all}
.who{color:var(--grey)}
.why{margin:4px 0}.facts{color:var(--grey);font-size:12px;word-break:break-all}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:6px 0;font-size:13px}
th,td{border:1px solid #d0d7de;padding:4px 6px;vertical-align:top;text-align:left}
th{background:#f6f8fa;font-weight:600}
col:nth-child(1){width:19%}col:nth-child(2){width:18%}col:nth-child(3){width:15%}
col:nth-child(4){width:10%}col:nth-child(5){width:14%}col:nth-child(6){width:15%}
col:nth-child(7){width:9%}
td{overflow-wrap:anywhere}
tr.failed td:first-child,tr.indeterminate td:first-child{border-left:4px solid var(--c)}
.small{font-size:12px;color:#57606a}.t{white-space:nowrap}
.ok{color:var(--passed);font-weight:bold}.bad{color:var(--failed);font-weight:bold}
.warn{color:var(--indeterminate);font-weight:bold}
.badge.unchecked{background:#fff;color:var(--indeterminate);
border:1px solid var(--indeterminate)}
.count .sub{display:block;font-size:12px;font-weight:bold}
ul.details{margin:2px 0;padding-left:16px}
code{font-size:12px}
footer{margin-top:24px;color:var(--grey);font-size:12px}
"""


_DASH = "\u2013"  # en dash: "no value"
_NOTHING = f'<span class="small">{_DASH}</span>'


def vn_time(value: object) -> str:
    """An ISO 8601 time from a report dict, shown in Vietnam time; "" for None.

    A value that is not an aware ISO time is returned unchanged (never dropped).
    """
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        return str(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return value
    return parsed.astimezone(VIETNAM_TIME).strftime("%Y-%m-%d %H:%M:%S+07:00")


def category(document: Mapping[str, Any]) -> str:
    """``error``, ``unsigned``, or the document's indication."""
    if document.get("error"):
        return "error"
    if not document.get("signatures"):
        return "unsigned"
    return str(document.get("status") or "INDETERMINATE")


def not_checked(document: Mapping[str, Any]) -> int:
    """How many of a document's TOTAL-PASSED signatures passed without a revocation
    check. A signature dict without ``revocation_checked`` (written by an older
    signsvc) counts as not checked: nothing says it was."""
    return sum(1 for s in document.get("signatures") or ()
               if s.get("indication") == "TOTAL-PASSED"
               and s.get("revocation_checked") is not True)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _time(value: object) -> str:
    shown = vn_time(value)
    return f'<span class="t">{_e(shown)}</span>' if shown else _DASH


def _class(key: str) -> str:
    return _CATEGORIES.get(key, ("other", key))[0]


def _label(key: str) -> str:
    return _CATEGORIES.get(key, ("other", key))[1]


def _flag(value: object, yes: str, no: str) -> str:
    if value is True:
        return f'<span class="ok">✓ {yes}</span>'
    if value is False:
        return f'<span class="bad">✗ {no}</span>'
    return _NOTHING


def write_html(
    out: TextIO,
    documents: Callable[[], Iterable[dict[str, Any]]],
    *,
    summary: Mapping[str, int],
    title: str | None,
    generated_at: datetime,
    trust: Sequence[str],
    policy: str,
    not_checked_for_revocation: int = 0,
) -> None:
    """Write the whole page to ``out``, reading ``documents()`` twice;
    ``not_checked_for_revocation`` of the passed documents are counted apart."""
    heading = title or "Báo cáo xác minh chữ ký số / Signature verification report"
    out.write('<!DOCTYPE html>\n<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
              '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
              '<meta http-equiv="Content-Security-Policy" '
              "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
              f"<title>{_e(heading)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n")
    out.write(f"<header>\n<h1>{_e(heading)}</h1>\n<dl class=\"meta\">\n")
    out.write(f"<dt>Thời điểm lập / Generated</dt><dd>{_e(vn_time(generated_at.isoformat()))}"
              "</dd>\n")
    out.write(f"<dt>Chính sách / Policy</dt><dd><code>{_e(policy)}</code></dd>\n")
    anchors = "".join(f"<li>{_e(t)}</li>" for t in trust) or f"<li>{_DASH}</li>"
    out.write(f"<dt>Neo tin cậy / Trust anchors</dt><dd><ul>{anchors}</ul></dd>\n</dl>\n"
              "</header>\n")
    _write_summary(out, summary, not_checked_for_revocation)

    out.write('<h2 id="attention">Cần xem xét / Needs attention</h2>\n')
    shown = 0
    for index, document in enumerate(documents()):
        if category(document) != "TOTAL-PASSED":
            out.write(_document(index, document, expanded=True))
            shown += 1
    if not shown:
        out.write('<p class="ok">Không có / None</p>\n')

    out.write('<h2 id="passed">Hợp lệ / Valid</h2>\n')
    shown = 0
    for index, document in enumerate(documents()):
        if category(document) == "TOTAL-PASSED":
            out.write(_document(index, document, expanded=False))
            shown += 1
    if not shown:
        out.write('<p class="small">Không có / None</p>\n')
    out.write('<footer>signsvc — chỉ báo theo ETSI EN 319 102-1 / indications per '
              "ETSI EN 319 102-1 §5.1.3; thời gian theo giờ Việt Nam (+07:00)</footer>\n"
              "</body>\n</html>\n")


def _write_summary(out: TextIO, summary: Mapping[str, int], not_checked_count: int) -> None:
    keys = [k for k in _CATEGORIES if k in summary]
    keys += [k for k in summary if k not in _CATEGORIES]
    out.write('<section class="summary" aria-label="Tổng hợp / Summary">\n')
    for key in keys:
        target = "#passed" if key == "TOTAL-PASSED" else "#attention"
        apart = ""
        if key == "TOTAL-PASSED" and not_checked_count:
            apart = (f'<span class="sub" data-not-checked="{int(not_checked_count)}">'
                     f"{int(not_checked_count)} {_e(_NOT_CHECKED)}</span>")
        out.write(f'<a class="count {_class(key)}" href="{target}" data-status="{_e(key)}">'
                  f"<b>{int(summary[key])}</b><span>{_e(_label(key))}</span>{apart}</a>\n")
    out.write("</section>\n")


def _document(index: int, doc: Mapping[str, Any], *, expanded: bool) -> str:
    cat = category(doc)
    signatures: list[dict[str, Any]] = list(doc.get("signatures") or [])
    names = ", ".join(
        str((s.get("signer") or {}).get("common_name") or "") for s in signatures
        if (s.get("signer") or {}).get("common_name"))
    parts = [
        f'<article class="doc {_class(cat)}" id="doc-{index}" data-status="{_e(cat)}">',
        f"<details{' open' if expanded else ''}><summary>",
        f'<span class="badge">{_e(_label(cat))}</span> <span class="path">'
        f"{_e(doc.get('path'))}</span>",
    ]
    if cat == "TOTAL-PASSED" and not_checked(doc):
        # Visible on the collapsed line: a passed document is not opened to look.
        parts.append(f' <span class="badge unchecked">{_e(_NOT_CHECKED)}</span>')
    if names:
        parts.append(f' <span class="who">— {_e(names)}</span>')
    parts.append("</summary>\n")
    why = _e(doc.get("reason"))
    if doc.get("sub_indication"):
        why = f"<code>{_e(doc.get('sub_indication'))}</code> {why}"
    if doc.get("reason") and doc.get("reason") != doc.get("error"):
        parts.append(f'<p class="why">{why}</p>\n')
    if doc.get("error"):
        parts.append(f'<p class="bad">Lỗi / Error: {_e(doc.get("error"))}'
                     f' <code>{_e(doc.get("error_type"))}</code></p>\n')
    facts = [
        ("SHA-256", doc.get("sha256")),
        ("bytes", doc.get("size")),
        ("revisions", doc.get("revisions")),
        ("validated at", vn_time(doc.get("validation_time"))),
    ]
    shown = " · ".join(f"{k}: {_e(v)}" for k, v in facts if v not in (None, ""))
    if shown:
        parts.append(f'<p class="facts">{shown}</p>\n')
    if signatures:
        parts.append(_TABLE_HEAD)
        parts.extend(_signature_row(s) for s in signatures)
        parts.append("</tbody></table>\n")
    parts.append("</details></article>\n")
    return "".join(parts)


_TABLE_HEAD = (
    # Fixed widths: long reasons must wrap in their own column, not squeeze the others.
    "<table><colgroup><col><col><col><col><col><col><col></colgroup>"
    "<thead><tr><th>Chữ ký / Signature</th><th>Người ký / Signer</th>"
    "<th>Thời điểm / Time</th><th>Toàn vẹn / Integrity</th>"
    "<th>Sửa đổi sau ký / Changes</th><th>Chuỗi chứng thư / Chain</th>"
    "<th>LTV</th></tr></thead><tbody>\n"
)


def _signature_row(sig: Mapping[str, Any]) -> str:
    indication = str(sig.get("indication") or "")
    cells = []

    result = f'<span class="badge {_class(indication)}">{_e(indication)}</span>'
    if sig.get("sub_indication"):
        result += f" <code>{_e(sig.get('sub_indication'))}</code>"
    kind = "" if sig.get("kind") == "signature" else (
        f'<div class="small">{_e(sig.get("kind"))}</div>')
    cells.append(f"<code>{_e(sig.get('field'))}</code>{kind}<div>{result}</div>"
                 f"<div>{_e(sig.get('reason'))}</div>")

    signer = sig.get("signer") or {}
    if signer:
        cells.append(f"<b>{_e(signer.get('common_name') or signer.get('subject'))}</b>"
                     f'<div class="small">{_e(signer.get("subject"))}</div>'
                     f'<div class="small">serial <code>{_e(signer.get("serial"))}</code>'
                     f" · issuer {_e(signer.get('issuer'))}</div>")
    else:
        cells.append(_NOTHING)

    times = [f'<div>claimed: {_time(sig.get("claimed_signing_time"))}</div>']
    ts = sig.get("timestamp") or {}
    if ts:
        tsa = (ts.get("tsa") or {}).get("common_name")
        times.append(f"<div>TSA: {_time(ts.get('time'))} "
                     f"{_flag(ts.get('valid'), 'valid', 'invalid')}</div>")
        extra = _e(tsa) if ts.get("valid") else f"{_e(tsa)} {_e(ts.get('reason'))}"
        times.append(f'<div class="small">{extra}</div>')
    else:
        times.append('<div class="small">no time-stamp</div>')
    cells.append("".join(times))

    integrity = sig.get("integrity") or {}
    algs = " / ".join(str(a) for a in (integrity.get("digest_algorithm"),
                                       integrity.get("signature_algorithm")) if a)
    coverage = sig.get("coverage")
    coverage_class = "bad" if coverage == "partial" else ""
    revision = f", rev. {sig['revision']}" if sig.get("revision") else ""
    cells.append(f"{_flag(sig.get('intact'), 'intact', 'altered')}"
                 f'<div class="small">{_e(algs)}</div>'
                 f'<div class="{coverage_class}">{_e(coverage or _DASH)}{_e(revision)}</div>')

    modification = sig.get("modification")
    mod_class = {"none": "ok", "allowed": "ok", "disallowed": "bad",
                 "unknown": "warn"}.get(str(modification), "")
    details = "".join(f"<li>{_e(d)}</li>" for d in sig.get("modification_details") or ())
    cells.append(f'<span class="{mod_class}">{_e(modification or _DASH)}</span>'
                 + (f'<ul class="details small">{details}</ul>' if details else ""))

    chain = sig.get("chain") or {}
    if chain:
        chain_ind = str(chain.get("indication") or "")
        cell = f'<span class="badge {_class(chain_ind)}">{_e(chain_ind)}</span>'
        if chain.get("sub_indication"):
            cell += f" <code>{_e(chain.get('sub_indication'))}</code>"
        cell += f'<div class="small">{_e(chain.get("reason"))}</div>'
        if chain.get("anchor"):
            cell += f'<div class="small">anchor: {_e(chain.get("anchor"))}</div>'
        if indication == "TOTAL-PASSED" and sig.get("revocation_checked") is not True:
            cell += f'<div><span class="badge unchecked">{_e(_NOT_CHECKED)}</span></div>'
        cells.append(cell)
    else:
        cells.append(_NOTHING)

    ltv = sig.get("ltv") or {}
    cells.append(f"{_flag(ltv.get('offline'), 'offline', 'online only')}"
                 f'<div class="small">{_e(ltv.get("reason"))}</div>' if ltv
                 else _NOTHING)

    row_class = _class(indication) if indication != "TOTAL-PASSED" else "passed"
    return f'<tr class="{row_class}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n"
