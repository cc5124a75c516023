"""Messages that are English where they are made and translatable where they are shown.

The token layer knows no language (it sits below :mod:`signsvc`, which holds the
catalogs): its errors say what happened in English, as :class:`Text`, which remembers
the msgid and its arguments. :func:`signsvc._i18n.localize` says one in the language
of the run, so an official reads "mã PIN không đúng" where the driver wrote "the PIN is
incorrect". ``str()`` of a Text, JSON and logs stay English.

Example::

    >>> from drivers._text import text
    >>> t = text("the PIN is incorrect (token {token!r})", token="VGCA")
    >>> str(t), t.msgid
    ("the PIN is incorrect (token 'VGCA')", 'the PIN is incorrect (token {token!r})')
"""

from __future__ import annotations

__all__ = ["Text", "text"]


class Text(str):
    """A message in English that can still be said in another language (made by
    :func:`text`): the formatted English text, plus :attr:`msgid` and :attr:`args`."""

    msgid: str
    args: dict[str, object]

    def __new__(cls, msgid: str, args: dict[str, object]) -> Text:
        self = super().__new__(cls, msgid.format(**args) if args else msgid)
        self.msgid = msgid
        self.args = args
        return self

    def __reduce__(self) -> tuple[object, ...]:
        return (Text, (self.msgid, self.args))

    def __add__(self, other: str) -> Text:
        """``text(...) + more`` stays translatable (both parts, when ``more`` is one)."""
        return Text("{head}{tail}", {"head": self, "tail": other})


def text(msgid: str, **args: object) -> Text:
    """``msgid`` formatted with ``args``, translatable when shown (Babel extracts it:
    keyword ``text`` in ``scripts/i18n.sh``)."""
    return Text(msgid, args)
