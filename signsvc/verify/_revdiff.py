"""What each incremental update changed, judged against what signatures permit.

ISO 32000-2 §12.8.2.2 (DocMDP) and §12.8.2.4 (FieldMDP) say which changes a signed
document may receive: none (P=1, beyond validation data and document time-stamps),
form filling and signing (P=2), and annotations too (P=3). An approval signature
without a certification signature permits form filling and annotations, as Adobe
Acrobat and iText's DocumentRevisionsValidator read the standard.

The analysis compares consecutive revisions once each (:func:`transitions`), by value,
role by role: the trailer, the catalog, the page tree, each page's annotations, the
form's fields and their widgets, the structure tree. Anything not explained by a rule
is a problem. A signature's verdict is judged from them by
:mod:`signsvc.verify._revrules`.

What the rules allow, and what they do not:

- A new signature field, its widget on a page, its signature dictionary; a document
  time-stamp; the DSS and its VRI (ETSI EN 319 142-1 §5.4); ``/Info``, ``/Metadata``
  and ``/PieceInfo``; ``/Extensions`` and ``/Version``; new fonts in the form's ``/DR``.
- Objects freed or left unreferenced by an update (real producers free their own
  cross-reference stream, with generation 65534): only what the new revision
  *reaches* matters, so a freed object still in use is null there, and differs.
- Field values and their widgets' appearances (P >= 2, not locked); annotations,
  page ``/Tabs``, structure elements for added or removed annotations (P = 3, or no
  certification).
- Never: a field removed, a non-signature field added, a signature dictionary
  changed, pages or their content, resources, the outline, names, actions, the
  structure tree beyond annotations, trailer keys, anything the rules do not name.

Objects with a role (pages, annotations, fields, structure elements) are compared by
reference where other objects point to them (a destination names a page), and by
value by their role's rule, once. Comparison is by value: an object rewritten with
the same value is unchanged, whether direct or indirect, compressed or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from signsvc._i18n import Text, text
from signsvc.verify._pdfscan import (
    Name,
    PdfDict,
    PdfLimitError,
    PdfSyntaxError,
    Ref,
    Stream,
    _text,
)
from signsvc.verify._revviews import RevisionView

__all__ = ["Transition", "transitions"]

MAX_COMPARE_DEPTH = 128
"""Nesting a comparison follows (the reader itself caps one object at 64)."""

_TRAILER_FREE = frozenset({"Size", "Prev", "XRefStm", "ID", "Info", "Root", "Type", "W",
                           "Index", "Length", "Filter", "DecodeParms", "AuthCode"})
"""Trailer keys an update rewrites: the cross-reference bookkeeping, the file
identifier, and ``/AuthCode`` (ISO/TS 32004 file MAC, new with every update)."""
_CATALOG_ROLES = frozenset({"Pages", "AcroForm", "StructTreeRoot", "DSS", "Perms"})
_CATALOG_FREE = {
    "Metadata": "metadata", "PieceInfo": "metadata", "Extensions": "metadata",
    "Version": "metadata",
}
_PAGE_FREE = frozenset({"Kids", "Parent", "Annots", "PieceInfo", "LastModified", "Tabs",
                        "StructParents"})
_FIELD_KEYS = frozenset({"FT", "T", "TU", "TM", "Ff", "V", "DV", "Kids", "Parent", "Opt",
                         "TI", "I", "MaxLen", "DA", "Q", "DS", "RV", "Lock", "SV", "AA"})
_WIDGET_FREE = frozenset({"AP", "AS", "M"})
_ANNOT_FREE = frozenset({"StructParent"})
_FORM_FREE = frozenset({"Fields", "DR", "SigFlags", "NeedAppearances", "DA"})
_STRUCT_FREE = frozenset({"K", "ParentTree", "ParentTreeNextKey", "IDTree"})
_ELEM_FREE = frozenset({"K", "P"})


@dataclass
class Transition:
    """What one update (revision ``index`` to ``index + 1``) changed."""

    index: int
    problems: list[str] = field(default_factory=list)
    """Changes no permission allows."""
    filled: dict[str, str] = field(default_factory=dict)
    """Field name -> what changed (values, appearances): form filling."""
    signed: dict[str, bool] = field(default_factory=dict)
    """Signature field name -> whether it is a document time-stamp."""
    added: list[str] = field(default_factory=list)
    """Empty signature fields added."""
    annotations: list[str] = field(default_factory=list)
    """Annotation changes (P = 3)."""
    widgets: dict[str, str] = field(default_factory=dict)
    """Field name -> a change of its widgets beyond appearances (P = 3, not locked)."""
    validation: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    certification: bool = False
    """A DocMDP (certification) entry appeared in /Perms."""


class _Compare:
    """One update's comparison: old and new view, and what it found."""

    def __init__(self, old: RevisionView, new: RevisionView, t: Transition) -> None:
        self.old = old
        self.new = new
        self.t = t
        self._memo: dict[tuple[Any, Any], bool] = {}
        self._steps = 0
        self.new_widgets: dict[int, str] = {}
        """Widget object number -> field name, of fields in the new revision."""
        self.old_widgets: dict[int, str] = {}
        self.added_annots: set[int] = set()
        self.on_pages: set[int] = set()
        """Annotations on the new revision's pages."""
        self.unparented: list[tuple[str, int]] = []
        """(field, widget) taken out of a field: they must leave the pages too."""
        self.removed_annots: set[int] = set()

    # -- by value ---------------------------------------------------------------
    def same(self, a: Any, b: Any, depth: int = 0) -> bool:
        """Whether ``a`` (old) and ``b`` (new) have the same value; objects with a role
        compare by reference."""
        self._steps += 1
        if not self._steps % 1024:
            self.new.pdf.budget.check()
        if depth > MAX_COMPARE_DEPTH:
            raise PdfLimitError(f"objects nested deeper than {MAX_COMPARE_DEPTH} "
                                "(comparing revisions)")
        key = None
        if isinstance(a, Ref) and isinstance(b, Ref):
            key = (a, b)
            if key in self._memo:
                return self._memo[key]
            self._memo[key] = True  # a cycle compares equal where it closes
        va, vb = self.old.resolve(a), self.new.resolve(b)
        if isinstance(a, Ref) and isinstance(b, Ref) and (
                _has_role(va) or _has_role(vb)):
            result = a.num == b.num and _role(va) == _role(vb)
        else:
            result = self._same_value(va, vb, depth)
        if key is not None:
            self._memo[key] = result
        return result

    def _same_value(self, va: Any, vb: Any, depth: int) -> bool:
        if type(va) is not type(vb):
            return False
        if isinstance(va, PdfDict):
            return self.same_dict(va, vb, frozenset(), depth)
        if isinstance(va, list):
            return len(va) == len(vb) and all(
                self.same(x, y, depth + 1) for x, y in zip(va, vb, strict=True))
        if isinstance(va, Stream):
            if not self.same_dict(va.dict, vb.dict, frozenset({"Length"}), depth):
                return False
            if va is vb or va.raw == vb.raw:
                return True
            budget = self.new.pdf.budget
            try:
                return bool(va.decode(budget) == vb.decode(budget))
            except PdfLimitError:
                raise
            except PdfSyntaxError:
                return False  # an image filter: the raw bytes differ, so the stream does
        return bool(va == vb)

    def same_dict(self, a: dict[str, Any], b: dict[str, Any], skip: frozenset[str],
                  depth: int = 0) -> bool:
        return not any(True for _ in self.differing(a, b, skip, depth))

    def differing(self, a: Any, b: Any, skip: frozenset[str] = frozenset(),
                  depth: int = 0) -> Iterator[str]:
        """Keys whose values differ between dictionaries ``a`` and ``b``."""
        a = a if isinstance(a, dict) else {}
        b = b if isinstance(b, dict) else {}
        for k in sorted(set(a) | set(b)):
            if k in skip:
                continue
            if k not in a or k not in b or not self.same(a[k], b[k], depth + 1):
                yield k

    # -- roles ------------------------------------------------------------------
    def run(self) -> None:
        t = self.t
        old_tr, new_tr = self.old.trailer, self.new.trailer
        for k in self.differing(old_tr, new_tr, _TRAILER_FREE):
            t.problems.append(text("trailer /{key} changed", key=k))
        if not self.same(old_tr.get("Info"), new_tr.get("Info")):
            t.metadata.append(text("document information (/Info)"))
        old_cat, new_cat = self.old.root, self.new.root
        if not isinstance(old_cat, dict) or not isinstance(new_cat, dict):
            t.problems.append(text("the catalog (/Root) is missing or not a dictionary"))
            return
        for k in self.differing(old_cat, new_cat, _CATALOG_ROLES):
            if k in _CATALOG_FREE:
                t.metadata.append(text("catalog /{key}", key=k))
            else:
                t.problems.append(text("catalog /{key} changed", key=k))
        self._perms(old_cat.get("Perms"), new_cat.get("Perms"))
        if not self.same(old_cat.get("DSS"), new_cat.get("DSS")):
            if new_cat.get("DSS") is None:
                t.problems.append(text("the validation data (/DSS) was removed"))
            else:
                t.validation.append(text("validation data (DSS)"))
        self._form(self.old.resolve(old_cat.get("AcroForm")),
                   self.new.resolve(new_cat.get("AcroForm")))
        self._pages(old_cat.get("Pages"), new_cat.get("Pages"))
        for name, num in self.unparented:
            if num in self.on_pages:
                # Shown without its field (iText: FIELD_REMOVED).
                t.problems.append(text("form field {name!r}: a widget taken out of the "
                                       "field stays on its page", name=name))
        self._struct(self.old.resolve(old_cat.get("StructTreeRoot")),
                     self.new.resolve(new_cat.get("StructTreeRoot")))

    def _perms(self, a: Any, b: Any) -> None:
        va, vb = self.old.resolve(a), self.new.resolve(b)
        va = va if isinstance(va, dict) else {}
        vb = vb if isinstance(vb, dict) else {}
        for k in self.differing(va, vb):
            if k == "DocMDP" and k not in va:
                self.t.certification = True
            else:
                self.t.problems.append(text("permissions (/Perms /{key}) changed", key=k))

    # -- the form ---------------------------------------------------------------
    def _form(self, a: Any, b: Any) -> None:
        t = self.t
        if a is None and b is None:
            return
        if not isinstance(b, dict):
            t.problems.append(text("the form (/AcroForm) was removed"))
            return
        a = a if isinstance(a, dict) else PdfDict()
        for k in self.differing(a, b, _FORM_FREE):
            t.problems.append(text("form /{key} changed", key=k))
        old = _fields(self.old, a.get("Fields"))
        new = _fields(self.new, b.get("Fields"))
        for name, f in old.items():
            for w in f.widget_nums:
                self.old_widgets[w] = name
        for name, f in new.items():
            for w in f.widget_nums:
                self.new_widgets[w] = name
        for name in old.keys() - new.keys():
            t.problems.append(text("form field {name!r} removed", name=name))
        for name in sorted(new.keys() - old.keys()):
            f = new[name]
            if f.ft != "Sig":
                t.problems.append(text("form field {name!r} added", name=name))
            elif f.node.get("V") is None:
                if any(_visible(self.new, self.new.resolve(w)) for w in f.widgets):
                    # The sneaky signature attack: nobody signs it, its look is shown.
                    t.problems.append(text("an unsigned signature field {name!r} with a "
                                           "visible appearance added", name=name))
                else:
                    t.added.append(name)
            else:
                t.signed[name] = _is_timestamp(self.new.resolve(f.node.get("V")))
        for name in sorted(old.keys() & new.keys()):
            self._field(name, old[name], new[name])

    def _field(self, name: str, fa: _Field, fb: _Field) -> None:
        t = self.t
        va, vb = fa.node.get("V"), fb.node.get("V")
        value_changed = not self.same(va, vb)
        signing = fb.ft == "Sig" and va is None and vb is not None
        keys = set(fa.node) | set(fb.node)
        # Signing an empty field may set its flags, tooltip or default appearance; its
        # name and type stay.
        kept = frozenset({"FT", "T"}) if signing else _FIELD_KEYS
        field_only = frozenset(k for k in keys if k not in kept) | {"V", "Kids", "Parent"}
        for k in self.differing(fa.node, fb.node, field_only):
            t.problems.append(text("form field {name!r}: /{key} changed", name=name, key=k))
        if signing:
            t.signed[name] = _is_timestamp(self.new.resolve(vb))
        elif fb.ft == "Sig" and value_changed:
            t.problems.append(text("signature {name!r} replaced or removed", name=name))
        elif value_changed:
            t.filled[name] = text("value")
        if fa.widget_nums - fb.widget_nums or len(fa.widgets) > len(fb.widgets):
            self.unparented.extend((name, n) for n in fa.widget_nums - fb.widget_nums)
            t.widgets[name] = text("widgets removed")
        elif fa.widget_nums != fb.widget_nums or len(fa.widgets) != len(fb.widgets):
            t.widgets[name] = text("widgets added")
        appearance = name in t.filled
        for wa, wb in zip(fa.widgets, fb.widgets, strict=False):
            da, db = self.old.resolve(wa), self.new.resolve(wb)
            if isinstance(wa, Ref) and isinstance(wb, Ref) and wa.num != wb.num:
                t.widgets[name] = text("a widget replaced")
                continue
            if not isinstance(da, dict) or not isinstance(db, dict):
                t.widgets[name] = text("a widget is not a dictionary")
                continue
            if not self.same(da.get("AP"), db.get("AP")):
                shared = _shared_appearance(self.old, da.get("AP"))
                if shared is not None:
                    t.problems.append(text(
                        "form field {name!r}: its old appearance (object {num}) is also "
                        "used elsewhere in the document, and the update gave the widget "
                        "another one", name=name, num=shared))
            if name in t.signed:
                # The new signature's own look: whatever its widget shows now, that
                # signature covers it, as it would cover a new field's.
                continue
            skip = _WIDGET_FREE | _FIELD_KEYS
            for k in self.differing(da, db, skip):
                t.widgets[name] = text("widget /{key} changed", key=k)
            if not self.same_dict(da, db, frozenset(set(da) | set(db)) - {"AP", "AS"}):
                if appearance:
                    t.filled.setdefault(name, text("appearance"))
                else:
                    t.widgets[name] = text("appearance changed")

    # -- pages ------------------------------------------------------------------
    def _pages(self, a: Any, b: Any, depth: int = 0, seen: set[int] | None = None) -> None:
        t = self.t
        seen = set() if seen is None else seen
        if depth > MAX_COMPARE_DEPTH:
            raise PdfLimitError("page tree nested too deep (comparing revisions)")
        if isinstance(a, Ref) and isinstance(b, Ref):
            if a.num != b.num:
                t.problems.append(text("page tree node {old} replaced by {new}",
                                       old=a.num, new=b.num))
                return
            if a.num in seen:
                t.problems.append(text("the page tree has a cycle"))
                return
            seen.add(a.num)
        na, nb = self.old.resolve(a), self.new.resolve(b)
        if not isinstance(na, dict) or not isinstance(nb, dict):
            if not self.same(a, b):
                t.problems.append(text("a page tree node changed"))
            return
        label = text("page object {new}", new=b.num) if isinstance(b, Ref) else text(
            "a page")
        for k in self.differing(na, nb, _PAGE_FREE):
            t.problems.append(text("{label}: /{key} changed", label=label, key=k))
        tabs = na.get("Tabs"), nb.get("Tabs")
        if not self.same(*tabs) and tabs != (None, "S"):  # /S: what iText also allows
            t.annotations.append(text("{label}: tab order (/Tabs)", label=label))
        if not self.same(na.get("StructParents"), nb.get("StructParents")):
            t.annotations.append(text("{label}: its structure parents (/StructParents)",
                                      label=label))
        ka, kb = self.old.resolve(na.get("Kids")), self.new.resolve(nb.get("Kids"))
        if isinstance(ka, list) or isinstance(kb, list):
            if not isinstance(ka, list) or not isinstance(kb, list) or len(ka) != len(kb):
                t.problems.append(text("{label}: pages added, removed or moved", label=label))
                return
            for x, y in zip(ka, kb, strict=True):
                self._pages(x, y, depth + 1, seen)
        if nb.get("Type") == "Page" or "Annots" in na or "Annots" in nb:
            self._annots(label, self.old.resolve(na.get("Annots")),
                         self.new.resolve(nb.get("Annots")))

    def _annots(self, label: Text, a: Any, b: Any) -> None:
        t = self.t
        a = a if isinstance(a, list) else []
        b = b if isinstance(b, list) else []
        if any(not isinstance(x, Ref) for x in (*a, *b)):
            if not self.same(a, b):
                t.annotations.append(text("{label}: direct annotations changed", label=label))
            return
        old = {x.num: x for x in a}
        new = {x.num: x for x in b}
        self.on_pages.update(new)
        for num in new.keys() - old.keys():
            d = self.new.resolve(new[num])
            self.added_annots.add(num)
            if _subtype(d) == "Widget":
                owner = self.new_widgets.get(num)
                if owner is None:
                    t.annotations.append(text("{label}: a widget of no form field added",
                                              label=label))
                elif not (owner in self.t.signed or owner in self.t.added):
                    t.widgets.setdefault(owner, text("a widget added to a page"))
            else:
                t.annotations.append(text("{label}: {kind} annotation added",
                                          label=label, kind=_subtype(d) or '?'))
        for num in old.keys() - new.keys():
            d = self.old.resolve(old[num])
            self.removed_annots.add(num)
            t.annotations.append(text("{label}: {kind} annotation removed",
                                      label=label, kind=_subtype(d) or '?'))
        for num in sorted(old.keys() & new.keys()):
            da, db = self.old.resolve(old[num]), self.new.resolve(new[num])
            if _subtype(da) == "Widget" and _subtype(db) == "Widget":
                if num not in self.new_widgets and not self.same_dict(
                        da, db, _ANNOT_FREE):
                    t.annotations.append(text("{label}: a widget of no form field changed",
                                              label=label))
                continue  # a field's widget: compared with its field
            if not isinstance(da, dict) or not isinstance(db, dict):
                t.problems.append(text("{label}: annotation {num} is not a dictionary",
                                       label=label, num=num))
            elif not self.same_dict(da, db, _ANNOT_FREE):
                t.annotations.append(text("{label}: {kind} annotation changed",
                                          label=label, kind=_subtype(db) or '?'))

    # -- structure --------------------------------------------------------------
    def _struct(self, a: Any, b: Any) -> None:
        t = self.t
        if a is None and b is None:
            return
        if not isinstance(a, dict) or not isinstance(b, dict):
            t.problems.append(text("the structure tree (/StructTreeRoot) was added or removed"))
            return
        for k in self.differing(a, b, _STRUCT_FREE):
            t.problems.append(text("structure tree /{key} changed", key=k))
        self._struct_kids(text("the structure tree"), a.get("K"), b.get("K"), 0)

    def _struct_kids(self, label: Text, a: Any, b: Any, depth: int) -> None:
        if depth > MAX_COMPARE_DEPTH:
            raise PdfLimitError("structure tree nested too deep (comparing revisions)")
        ka = self.old.resolve(a)
        kb = self.new.resolve(b)
        ka = ka if isinstance(ka, list) else ([] if ka is None else [a])
        kb = kb if isinstance(kb, list) else ([] if kb is None else [b])
        ka = [x for x in ka if not self._only_annots(self.old, x, self.removed_annots)]
        kb = [x for x in kb if not self._only_annots(self.new, x, self.added_annots)]
        if len(ka) != len(kb):
            self.t.problems.append(text("{label}: structure elements added or removed",
                                        label=label))
            return
        for x, y in zip(ka, kb, strict=True):
            ex, ey = self.old.resolve(x), self.new.resolve(y)
            if isinstance(ex, dict) and isinstance(ey, dict) and (
                    ex.get("Type", "StructElem") == "StructElem" and "S" in ex):
                if isinstance(x, Ref) and isinstance(y, Ref) and x.num != y.num:
                    self.t.problems.append(text("{label}: a structure element replaced",
                                                label=label))
                    continue
                for k in self.differing(ex, ey, _ELEM_FREE):
                    self.t.problems.append(text("structure element /{role}: /{key} changed",
                                                role=ex.get('S'), key=k))
                self._struct_kids(text("structure element /{role}", role=ex.get('S')), ex.get("K"),
                                  ey.get("K"), depth + 1)
            elif isinstance(ex, dict) and ex.get("Type") == "OBJR":
                ox, oy = ex.get("Obj"), ey.get("Obj") if isinstance(ey, dict) else None
                replaced = (isinstance(ox, Ref) and isinstance(oy, Ref)
                            and ox.num in self.removed_annots and oy.num in self.added_annots)
                if not isinstance(ey, dict) or not (_same_ref(ox, oy) or replaced):
                    self.t.problems.append(text("{label}: an object reference changed",
                                                label=label))
                elif not self.same_dict(ex, ey, frozenset({"Obj"})):
                    # Pg or a private key: nothing a viewer shows (as iText judges it)
                    self.t.annotations.append(text("{label}: an annotation's structure entry",
                                                   label=label))
            elif not self.same(x, y):
                self.t.problems.append(text("{label}: marked content changed", label=label))

    def _only_annots(self, view: RevisionView, item: Any, annots: set[int]) -> bool:
        """Whether ``item`` is a structure element (or object reference) that only
        stands for annotations in ``annots``."""
        d = view.resolve(item)
        if not isinstance(d, dict) or not annots:
            return False
        if d.get("Type") == "OBJR":
            obj = d.get("Obj")
            return isinstance(obj, Ref) and obj.num in annots
        kids = view.resolve(d.get("K"))
        kids = kids if isinstance(kids, list) else [d.get("K")]
        return bool(kids) and all(self._only_annots(view, k, annots) for k in kids)


@dataclass
class _Field:
    node: PdfDict
    ft: Any
    widgets: list[Any]
    widget_nums: frozenset[int]


def _fields(view: RevisionView, kids: Any) -> dict[str, _Field]:
    """Terminal fields by full name (ISO 32000-1 §12.7.3.2), with their widgets."""
    out: dict[str, _Field] = {}
    seen: set[int] = set()

    def walk(items: Any, prefix: str, ft: Any, depth: int) -> None:
        if depth > MAX_COMPARE_DEPTH:
            raise PdfLimitError("form field tree nested too deep (comparing revisions)")
        items = view.resolve(items)
        if not isinstance(items, list):
            return
        for item in items:
            if isinstance(item, Ref):
                if item.num in seen:
                    continue
                seen.add(item.num)
            node = view.resolve(item)
            if not isinstance(node, PdfDict):
                continue
            part = node.get("T")
            if isinstance(part, bytes):
                part_text = _text(part)
                name = f"{prefix}.{part_text}" if prefix else part_text
            else:  # an unnamed field: known by its object
                name = f"{prefix}[{item.num if isinstance(item, Ref) else len(out)}]"
            kind = node.get("FT", ft)
            children = view.resolve(node.get("Kids"))
            children = children if isinstance(children, list) else []
            sub = [c for c in children if isinstance(view.resolve(c), dict)
                   and "T" in view.resolve(c)]
            if sub:
                walk(sub, name, kind, depth + 1)
            # A terminal field's widgets are its kids without /T, or the field itself.
            widgets = [c for c in children if c not in sub] if children else [item]
            nums = frozenset(w.num for w in widgets if isinstance(w, Ref))
            key = name if name not in out else f"{name}#{len(out)}"
            out[key] = _Field(node, kind, widgets, nums)

    walk(kids, "", None, 0)
    return out


_ROLE_TYPES = frozenset({"Catalog", "Page", "Pages", "Annot", "StructElem",
                         "StructTreeRoot"})


def _role(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    kind = value.get("Type")
    if isinstance(kind, Name) and kind in _ROLE_TYPES:
        return "Annot" if kind == "Annot" else str(kind)
    if "Subtype" in value and "Rect" in value:
        return "Annot"
    if "FT" in value or ("T" in value and ("Kids" in value or "Parent" in value)):
        return "Field"
    if "S" in value and "P" in value and "K" in value:
        return "StructElem"
    return None


def _has_role(value: Any) -> bool:
    return _role(value) is not None


def _shared_appearance(view: RevisionView, ap: Any) -> int | None:
    """An indirect object of a widget's appearance (the /AP dictionary, its /N /R /D
    entries, their states) that something other than that appearance refers to, as
    pyHanko's analysis refuses it: an appearance used in two places can be made to
    show there what a form filling may change here."""
    parts: list[int] = []
    stack = [(ap, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Ref):
            parts.append(value.num)
        value = view.resolve(value)
        if isinstance(value, dict) and depth < 2:
            stack.extend((v, depth + 1) for v in value.values())
    if not parts:
        return None
    allowed = set(parts)
    referrers = view.referrers()
    for num in parts:
        for owner in referrers.get(num, set()) - allowed:
            # Widgets may share one (Acrobat's "DSBlank" for empty signature fields,
            # also in the form's /DR): only a use outside the form counts.
            d = view.get(Ref(owner, _gen(view, owner))) if owner >= 0 else None
            if not (isinstance(d, dict) and (_subtype(d) == "Widget" or "Fields" in d)):
                return num
    return None


def _gen(view: RevisionView, num: int) -> int:
    entry = view.entries.get(num)
    return entry[2] if entry is not None and entry[0] == 1 else 0


def _visible(view: RevisionView, widget: Any) -> bool:
    """Whether a widget can show anything: a non-empty normal appearance, a non-empty
    box, not hidden (ISO 32000-1 §12.5.3 flags Hidden 2, NoView 32). pyHanko and
    Acrobat give an empty signature field an empty appearance stream."""
    if not isinstance(widget, dict):
        return False
    flags = widget.get("F", 0)
    if type(flags) is int and flags & (2 | 32):
        return False
    rect = widget.get("Rect")
    if (isinstance(rect, list) and len(rect) == 4
            and all(type(x) in (int, float) for x in rect)
            and (rect[0] == rect[2] or rect[1] == rect[3])):
        return False
    ap = view.resolve(widget.get("AP"))
    normal = view.resolve(ap.get("N")) if isinstance(ap, dict) else None
    states = [normal] if isinstance(normal, Stream) else (
        [view.resolve(v) for v in normal.values()] if isinstance(normal, dict) else [])
    return any(not isinstance(st, Stream) or _drawn(view, st) for st in states)


def _drawn(view: RevisionView, stream: Stream) -> bool:
    try:
        return bool(stream.decode(view.pdf.budget).strip())
    except PdfLimitError:
        raise
    except PdfSyntaxError:
        return True  # a filter the reader does not decode: assume it draws


def _subtype(d: Any) -> str | None:
    s = d.get("Subtype") if isinstance(d, dict) else None
    return str(s) if isinstance(s, Name) else None


def _same_ref(a: Any, b: Any) -> bool:
    return isinstance(a, Ref) and isinstance(b, Ref) and a.num == b.num


def _is_timestamp(sig: Any) -> bool:
    return isinstance(sig, dict) and sig.get("Type") == "DocTimeStamp"


def transitions(views: list[RevisionView]) -> list[Transition]:
    """What each update changed: ``out[i]`` is revision ``i`` to ``i + 1``."""
    out = []
    for i in range(len(views) - 1):
        t = Transition(i)
        _Compare(views[i], views[i + 1], t).run()
        out.append(t)
    return out
