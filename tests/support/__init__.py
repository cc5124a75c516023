"""What the tests share: helpers, test data builders and the virtual smart card.

Test modules import from here only, never from another test module or from conftest
(which holds fixtures only).

Modules:

- :mod:`.paths`: ``ROOT`` (the repository) and ``PKI`` (certs_test/); puts the
  repository on ``sys.path`` so ``certs_test`` imports.
- :mod:`.tools`: :func:`~.tools.need` and :func:`~.tools.skip_or_fail`, the suite's one
  rule for a missing tool (skip on a developer machine, fail in CI); ``SPY``, OpenSC's
  pkcs11-spy module.
- :mod:`.tokens`: the SoftHSM2 test tokens (labels, identities, how the ``hsm`` fixture
  builds them).
- :mod:`.chains`: the test PKI as validate_chain sees it (certificates, keys, CRLs,
  trust stores, ``check``, OCSP responses, throw-away certificates).
- :mod:`.corpus`: a folder of signed, tampered and broken documents for batch
  verification.
- :mod:`.pdfs`: small hand-written PDFs.
- :mod:`.badpdfs`: bad and awkward input documents derived from a committed sample.
- :mod:`.pdfcheck`: independent checkers (poppler's pdfsig, NSS, pyHanko's validator).
- :mod:`.faults`: helpers of the token-fault tests (documents, PIN counter, output
  checks, the CLI in a subprocess).
- :mod:`.layout`: the architecture's import rules, as a checker.
- :mod:`.attacks`: the PDF signature attack corpus (USF, ISA, SWA, shadow,
  certification attacks, impostors).
- :mod:`.virtual_card`: a virtual PIV smart card on the real PC/SC stack, and its
  pytest plugin (``pcsc`` and ``virtual_card`` fixtures); run by hand with
  ``python -m tests.support.virtual_card.card``.
"""
