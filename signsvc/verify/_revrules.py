"""Which updates a signature permits: DocMDP, FieldMDP locks, and the verdict.

ISO 32000-2 §12.8.2.2 (DocMDP) and §12.8.2.4 (FieldMDP): a certification signature's
P permits nothing but validation data and document time-stamps (1), form filling and
signing (2), and annotations too (3); a FieldMDP lock freezes named fields. A
signature's verdict (:func:`judge`) is every update after its revision
(:func:`signsvc.verify._revdiff.transitions`) under the certification signature's P
and the signature's own locks (:func:`permissions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from signsvc._i18n import text
from signsvc.verify._pdfscan import PdfDict, Ref, _text
from signsvc.verify._revdiff import Transition
from signsvc.verify._revviews import RevisionView

__all__ = ["Lock", "judge", "permissions"]


@dataclass(frozen=True)
class Lock:
    """A FieldMDP lock (ISO 32000-2 §12.8.2.4): which fields a signature freezes."""

    action: str
    """All, Include or Exclude (or Union, of ``parts``)."""
    fields: frozenset[str] = frozenset()
    p: int | None = None
    """The lock dictionary's /P (ISO 32000-2 §12.7.5.5): permissions from now on."""
    parts: tuple[Lock, ...] = ()

    def locks(self, name: str) -> bool:
        def named(n: str) -> bool:
            return any(n == f or n.startswith(f + ".") for f in self.fields)
        if self.action == "Union":
            return any(part.locks(name) for part in self.parts)
        if self.action == "All":
            return True
        if self.action == "Include":
            return named(name)
        return not named(name)


def judge(changes: list[Transition], docmdp: int | None, locks: Sequence[Lock] = ()
          ) -> tuple[bool, list[str]]:
    """(allowed, details) of the updates ``changes`` after one signature.

    ``docmdp`` is the certification signature's P (None without one); ``locks`` the
    signature's FieldMDP locks (the field's ``/Lock`` and the signature dictionary's
    FieldMDP reference).
    """
    for lk in locks:
        if lk.p is not None:
            docmdp = lk.p if docmdp is None else min(docmdp, lk.p)
    lock = Lock("Union", parts=tuple(locks)) if locks else None
    bad: list[str] = []
    seen: list[str] = []
    for t in changes:
        bad.extend(t.problems)
        if t.certification:
            bad.append(text("a certification signature was added after this signature"))
        for name, ts in t.signed.items():
            if docmdp == 1 and not ts:
                bad.append(text("signature {name!r} added, which the certification "
                                "signature (DocMDP P=1) does not allow", name=name))
            elif lock is not None and lock.locks(name):
                bad.append(text("signature field {name!r} is locked by this signature", name=name))
            else:
                seen.append(text("document time-stamp {name!r} added", name=name) if ts
                            else text("signature {name!r} added", name=name))
        for name in t.added:
            if docmdp == 1:
                bad.append(text("signature field {name!r} added (DocMDP P=1)", name=name))
            else:
                seen.append(text("empty signature field {name!r} added", name=name))
        for name, what in t.filled.items():
            if docmdp == 1:
                bad.append(text("form field {name!r} filled ({what}; DocMDP P=1)",
                                name=name, what=what))
            elif lock is not None and lock.locks(name):
                bad.append(text("form field {name!r} is locked by this signature "
                                "({what} changed)", name=name, what=what))
            else:
                seen.append(text("form field {name!r} filled ({what})", name=name, what=what))
        for name, what in t.widgets.items():
            if lock is not None and lock.locks(name):
                bad.append(text("form field {name!r} is locked by this signature ({what})",
                                name=name, what=what))
            elif docmdp != 3:
                bad.append(text("form field {name!r}: {what} ({why})",
                                name=name, what=what, why=_NO_ANNOTATIONS[docmdp is None]))
            else:
                seen.append(text("form field {name!r}: {what}", name=name, what=what))
        for what in t.annotations:
            if docmdp != 3:
                bad.append(text("{what} ({why})", what=what, why=_NO_ANNOTATIONS[docmdp is None]))
            else:
                seen.append(what)
        seen.extend(t.validation)
        seen.extend(text("metadata: {what}", what=m) for m in t.metadata)
    return not bad, _unique(bad) if bad else _unique(seen)


_NO_ANNOTATIONS = {
    True: text("only a certification signature with DocMDP P=3 permits annotations"),
    False: text("the certification signature's DocMDP does not permit annotations"),
}
"""Why an annotation change is not allowed. Without a certification signature, iText
and Adobe Acrobat accept annotation changes after an approval signature, pyHanko does
not; signsvc follows the stricter: an annotation drawn over signed content, or one
removed from it, changes what the signer saw (the evil annotation attack, Mladenov et
al., "Breaking PDF Signatures: certification attacks", 2021; the shadow hide attack)."""


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def permissions(view: RevisionView, field_name: str, field_ref: Ref | None,
                sig: Any) -> tuple[int | None, list[Lock]]:
    """The certification signature's DocMDP P (ISO 32000-2 §12.8.2.2; None without
    one) and the FieldMDP locks of one signature (its field's ``/Lock``, its
    dictionary's FieldMDP ``/Reference``), as the final revision defines them."""
    docmdp = None
    root = view.root
    perms = view.resolve(root.get("Perms")) if isinstance(root, dict) else None
    cert = view.resolve(perms.get("DocMDP")) if isinstance(perms, dict) else None
    for ref in _references(view, cert):
        if ref.get("TransformMethod") == "DocMDP":
            params = view.resolve(ref.get("TransformParams"))
            p = params.get("P", 2) if isinstance(params, dict) else 2
            docmdp = p if type(p) is int and 1 <= p <= 3 else 1  # unknown: strictest
    locks = []
    node = view.resolve(field_ref) if field_ref is not None else None
    lock = view.resolve(node.get("Lock")) if isinstance(node, dict) else None
    if isinstance(lock, dict):
        locks.append(_lock(view, lock))
    for ref in _references(view, sig):
        if ref.get("TransformMethod") == "FieldMDP":
            params = view.resolve(ref.get("TransformParams"))
            if isinstance(params, dict):
                locks.append(_lock(view, params))
    return docmdp, locks


def _references(view: RevisionView, sig: Any) -> list[PdfDict]:
    refs = view.resolve(sig.get("Reference")) if isinstance(sig, dict) else None
    refs = refs if isinstance(refs, list) else []
    return [d for d in (view.resolve(r) for r in refs) if isinstance(d, PdfDict)]


def _lock(view: RevisionView, d: dict[str, Any]) -> Lock:
    action = d.get("Action")
    names = view.resolve(d.get("Fields"))
    fields = frozenset(_text(view.resolve(n)) for n in names
                       if isinstance(view.resolve(n), bytes)) if isinstance(names, list) \
        else frozenset()
    p = d.get("P")
    return Lock(str(action) if action in ("All", "Include", "Exclude") else "All", fields,
                p if type(p) is int and 1 <= p <= 3 else None)
