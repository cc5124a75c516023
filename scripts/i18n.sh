#!/bin/sh
# Update the Vietnamese catalog: extract every marked string (signsvc's, and click's own
# "Usage:", "Error:", ... which signsvc translates too), merge it into
# signsvc/locale/vi/LC_MESSAGES/signsvc.po, and compile signsvc.mo (both committed, so an
# install without Babel speaks Vietnamese). New strings arrive with an empty msgstr:
# translate them, then run this again; tests/cli/test_i18n.py fails until every msgid
# has a translation and the .mo matches the .po.
set -eu
cd "$(dirname "$0")/.."
PYBABEL=.venv/bin/pybabel
PYTHON=.venv/bin/python
LOCALE=signsvc/locale
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PYBABEL" extract -F babel.cfg -k N_ -k text --sort-by-file --project signsvc \
    --copyright-holder "signsvc" --msgid-bugs-address "" -o "$work/signsvc.pot" .
click_dir=$("$PYTHON" -c 'import click, os; print(os.path.dirname(click.__file__))')
"$PYBABEL" extract --sort-by-file -o "$work/click.pot" "$click_dir"
"$PYTHON" - "$work/signsvc.pot" "$work/click.pot" <<'PY'
import sys
from babel.messages.pofile import read_po, write_po

ours_path, click_path = sys.argv[1:]
with open(ours_path, "rb") as f:
    ours = read_po(f)
with open(click_path, "rb") as f:
    for message in read_po(f):
        if message.id and message.id not in ours:
            ours[message.id] = message
            message.auto_comments.append("click's own message")
with open(ours_path, "wb") as f:
    write_po(f, ours, omit_header=False, width=90)
PY
if [ -f "$LOCALE/vi/LC_MESSAGES/signsvc.po" ]; then
    "$PYBABEL" update -N --ignore-obsolete -D signsvc -i "$work/signsvc.pot" -d "$LOCALE" -l vi -w 90
else
    "$PYBABEL" init -D signsvc -i "$work/signsvc.pot" -d "$LOCALE" -l vi -w 90
fi
"$PYBABEL" compile --statistics -D signsvc -d "$LOCALE" -l vi
