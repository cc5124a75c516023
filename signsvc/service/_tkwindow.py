"""The consent window itself, run as its own process by
:class:`~signsvc.service._tkconsent.TkConfirmer`:
``python -m signsvc.service._tkwindow``.

It reads one question as JSON on its standard input (a batch,
:meth:`ConsentRequest.to_json`, or ``{"kind": "pair", "origin": ...}``) and writes
one answer as JSON on its standard output, ``{"approved": bool, "pin": str | null,
"reason": str}``, then exits. The PIN travels only over that pipe: never in argv,
the environment or a log. The language is ``$SIGNSVC_LANG`` (the service's).

What the official can rely on:

- the calling origin is the most prominent text, and it is in the window title;
- "Sign" is never the focused default: Enter approves nothing, a PIN field or
  "Deny" has the focus;
- closing the window, Escape, or "Deny" denies.

Keyboard layout (tests drive it with xdotool): with a PIN, the focus starts in the
PIN field, Tab moves to "Sign", Tab again to "Deny"; without one, the focus starts on
"Deny" and Shift+Tab moves to "Sign" ("Allow" when pairing). Space presses the
focused button.
"""

from __future__ import annotations

import json
import os
import sys
import tkinter as tk
from tkinter import font as tkfont
from tkinter import ttk
from typing import Any

from signsvc._i18n import _, ngettext, set_language
from signsvc.service._consentbase import (
    DENIED,
    NO_DISPLAY,
    ConsentRequest,
    pair_question,
    shown_pages,
    shown_size,
    summary_lines,
)

__all__ = ["main"]

_MAX_ROWS = 10
"""Rows of the file list shown at once; more scroll (a batch holds up to 50)."""
_WRAP = 760
"""Pixels after which long values (a certificate subject, the stamp text) wrap."""


class _Window:
    """One question on screen and the answer it ends with."""

    def __init__(self, root: tk.Tk, question: dict[str, Any]) -> None:
        self.root = root
        self.answer: dict[str, Any] = {"approved": False, "pin": None, "reason": DENIED}
        self.pin: ttk.Entry | None = None
        self.note: ttk.Label | None = None
        root.protocol("WM_DELETE_WINDOW", self.deny)  # closing is a no
        root.bind("<Escape>", lambda _event: self.deny())
        # Above the browser that asked, so the question is not hidden behind it.
        root.attributes("-topmost", True)
        body = ttk.Frame(root, padding=16)
        body.pack(fill="both", expand=True)
        if question["kind"] == "pair":
            origin = str(question["origin"])
            root.title(f"signsvc — {origin}")
            ttk.Label(body, text=pair_question(origin), font=_bigger(root, 4, bold=True),
                      wraplength=_WRAP).pack(anchor="w", pady=(0, 12))
            self._buttons(body, _("Allow"))
        else:
            self._batch(body, ConsentRequest.from_json(question))
        focus = self.pin if self.pin is not None else self.deny_button
        # Once the window is mapped: without a window manager (Xvfb) there is
        # nobody else to give it the keyboard.
        root.bind("<Map>", lambda _event: focus.focus_force(), add="+")

    def _batch(self, body: ttk.Frame, request: ConsentRequest) -> None:
        self.root.title(f"signsvc — {request.origin}")
        ttk.Label(body, text=_("Signature request from")).pack(anchor="w")
        ttk.Label(body, text=request.origin, font=_bigger(self.root, 6, bold=True),
                  wraplength=_WRAP).pack(anchor="w", pady=(0, 12))
        facts = ttk.Frame(body)
        facts.pack(fill="x")
        for row, (label, value) in enumerate(summary_lines(request)[1:]):  # origin above
            ttk.Label(facts, text=label + ":").grid(row=row, column=0, sticky="nw", padx=(0, 8))
            ttk.Label(facts, text=value, wraplength=_WRAP).grid(row=row, column=1, sticky="nw")
        count = len(request.files)
        ttk.Label(body, text=ngettext("{count} document:", "{count} documents:", count)
                  .format(count=count)).pack(anchor="w", pady=(12, 4))
        self._file_list(body, request)
        if request.pin_needed:
            line = ttk.Frame(body)
            line.pack(fill="x", pady=(12, 0))
            ttk.Label(line, text=_("PIN:")).pack(side="left", padx=(0, 8))
            self.pin = ttk.Entry(line, show="•", width=24)
            self.pin.pack(side="left")
            self.note = ttk.Label(line, text="")
            self.note.pack(side="left", padx=(8, 0))
        self._buttons(body, _("Sign"))

    def _file_list(self, body: ttk.Frame, request: ConsentRequest) -> None:
        frame = ttk.Frame(body)
        frame.pack(fill="both", expand=True)
        columns = ("name", "size", "pages", "sha256")
        tree = ttk.Treeview(frame, columns=columns, show="headings",
                            height=min(max(len(request.files), 1), _MAX_ROWS))
        for column, title, width in (("name", _("File"), 240), ("size", _("Size"), 80),
                                     ("pages", _("Pages"), 60), ("sha256", "SHA-256", 600)):
            tree.heading(column, text=title, anchor="w")
            tree.column(column, width=width, stretch=column in ("name", "sha256"),
                        anchor="e" if column in ("size", "pages") else "w")
        for f in request.files:
            tree.insert("", "end", values=(f.name, shown_size(f.size), shown_pages(f.pages),
                                           f.sha256))
        scroll = ttk.Scrollbar(frame, orient="vertical", command=tree.yview)
        tree.configure(yscrollcommand=scroll.set)
        tree.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")

    def _buttons(self, body: ttk.Frame, yes: str) -> None:
        row = ttk.Frame(body)
        row.pack(fill="x", pady=(16, 0))
        # Created in Tab order: yes, then deny. Neither is a "default" button, and
        # nothing binds Enter: an approval takes a deliberate press.
        self.yes_button = ttk.Button(row, text=yes, command=self.approve)
        self.deny_button = ttk.Button(row, text=_("Deny"), command=self.deny)
        self.deny_button.pack(side="right")
        self.yes_button.pack(side="right", padx=(0, 8))

    def approve(self) -> None:
        """The official said yes: with the PIN typed, when one is asked."""
        pin: str | None = None
        if self.pin is not None:
            pin = self.pin.get()
            if not pin:  # no empty login attempt: it would cost a PIN try
                assert self.note is not None
                self.note.configure(text=_("Type the PIN first."))
                self.pin.focus_set()
                return
        self.answer = {"approved": True, "pin": pin, "reason": ""}
        self.root.destroy()

    def deny(self) -> None:
        """The official said no (or closed the window)."""
        self.answer = {"approved": False, "pin": None, "reason": DENIED}
        self.root.destroy()


def _bigger(root: tk.Tk, points: int, *, bold: bool = False) -> tkfont.Font:
    base = tkfont.nametofont("TkDefaultFont", root=root).actual()
    return tkfont.Font(root=root, family=base["family"], size=int(base["size"]) + points,
                       weight="bold" if bold else "normal")


def ask(question: dict[str, Any]) -> dict[str, Any]:
    """Show ``question`` until it is answered; the answer as written on stdout."""
    try:
        root = tk.Tk(className="signsvc")
    except tk.TclError:  # $DISPLAY set but no server behind it
        return {"approved": False, "pin": None, "reason": NO_DISPLAY}
    window = _Window(root, question)
    root.mainloop()
    return window.answer


def main() -> int:
    """Read the question, ask it, write the answer. Exit status 2: the question
    could not be read (the service then denies with "error")."""
    try:
        set_language(os.environ.get("SIGNSVC_LANG") or None)
    except ValueError:
        set_language(None)
    try:
        question = json.loads(sys.stdin.buffer.read())
        if not isinstance(question, dict) or question.get("kind") not in ("sign", "pair"):
            raise ValueError("not a question")
        if question["kind"] == "sign":
            ConsentRequest.from_json(question)  # fail here, before any window
    except ValueError as exc:
        print(f"signsvc consent window: {exc}", file=sys.stderr)
        return 2
    answer = ask(question)
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
