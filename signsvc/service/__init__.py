"""The local signing service for web e-office systems (``signsvc serve``).

VGCA-compatible calls (``SignApproved``, ``SignIssued``, ``SignAppendix``,
``SignCopy``) on 127.0.0.1, over WebSocket and JSON-over-HTTP, safe by construction:
the gate (:mod:`~signsvc.service.gate`), the strict request
(:mod:`~signsvc.service.schema`), documents only from the calling site
(:mod:`~signsvc.service.fetch`), one confirmation and one login per batch
(:mod:`~signsvc.service.run`, :mod:`~signsvc.service.consent`), every decision
audited (:mod:`~signsvc.service.audit`).

Example::

    >>> from signsvc.service import load_config, make_app, serve
    >>> from signsvc.service.consent import make_confirmer
    >>> app = make_app(load_config(), make_confirmer("tk"))  # doctest: +SKIP
    >>> serve(app, port=8987)  # doctest: +SKIP
"""

from signsvc.service.app import ServiceApp, make_app, serve
from signsvc.service.config import ServiceConfig, ServiceConfigError, load_config
from signsvc.service.replies import Status

__all__ = ["ServiceApp", "ServiceConfig", "ServiceConfigError", "Status", "load_config",
           "make_app", "serve"]
