"""Certificates: chains to a trust anchor (RFC 5280 §6), revocation (CRL, OCSP),
algorithm policy, trust anchors, ETSI indications. Knows no PDF.

Example::

    >>> from signsvc.pki import TrustStore, validate_chain
    >>> store = TrustStore.from_paths(["certs_test/gov-root-g2.crt.pem"])  # doctest: +SKIP
    >>> validate_chain(leaf, trust=store, at=when).passed  # doctest: +SKIP
    True

Private modules: ``_x509`` (parsed certificates, the cache by DER), ``_pathbuild`` and
``_pathcheck`` (building and checking paths), ``_profile`` (RFC 5280 §4 rules),
``_vnbundle`` (the shipped Vietnamese certificates), ``_nameconstraints`` (RFC 5280 §4.2.1.10),
``_policytree`` (the valid policy tree, §6.1.2), ``_crl`` (parsed CRLs).
"""

from signsvc.pki._x509 import ValidationCache
from signsvc.pki.algorithms import (
    DEFAULT_POLICY,
    HISTORICAL_POLICY,
    AlgorithmVerdict,
    ValidationPolicy,
)
from signsvc.pki.budget import WorkBudget
from signsvc.pki.chain import CHAIN_RULES, ChainResult, Rule, validate_chain
from signsvc.pki.fetch import RevocationFetcher
from signsvc.pki.indications import Indication, SubIndication
from signsvc.pki.revocation import (
    REVOCATION_MODES,
    CertificateRevocation,
    RevocationMode,
    RevocationStatus,
    load_ocsp_response,
)
from signsvc.pki.trust import (
    TRUST_PROFILES,
    VN_PROFILE,
    KnownAnchor,
    ShippedCertificate,
    TrustAnchor,
    TrustStore,
    add_trust_anchor,
    list_trust_anchors,
    load_certificates,
    remove_trust_anchor,
    trust_profile_file,
    user_trust_dir,
    vn_trust_material,
)

__all__ = [
    "CHAIN_RULES",
    "DEFAULT_POLICY",
    "HISTORICAL_POLICY",
    "REVOCATION_MODES",
    "TRUST_PROFILES",
    "VN_PROFILE",
    "AlgorithmVerdict",
    "CertificateRevocation",
    "ChainResult",
    "Indication",
    "KnownAnchor",
    "RevocationFetcher",
    "RevocationMode",
    "RevocationStatus",
    "Rule",
    "ShippedCertificate",
    "SubIndication",
    "TrustAnchor",
    "TrustStore",
    "ValidationCache",
    "ValidationPolicy",
    "WorkBudget",
    "add_trust_anchor",
    "list_trust_anchors",
    "load_certificates",
    "load_ocsp_response",
    "remove_trust_anchor",
    "trust_profile_file",
    "user_trust_dir",
    "validate_chain",
    "vn_trust_material",
]
