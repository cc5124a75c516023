"""Certificate policy processing: the valid_policy_tree of RFC 5280 §6.1.2-§6.1.5.

Bounds: the tree has one level per certificate and at most one node per (parent,
policy) pair, and a certificate may assert at most :data:`MAX_POLICIES` policies or
mappings (more is treated as a policy failure, never processed): the work per path is
O(depth * policies * mappings) with every factor capped.
"""

from __future__ import annotations

from collections.abc import Collection

from signsvc.pki._x509 import ANY_POLICY, CertInfo

__all__ = ["MAX_POLICIES", "PolicyState"]

MAX_POLICIES = 64


class _Node:
    __slots__ = ("children", "expected", "parent", "policy")

    def __init__(self, policy: str, expected: set[str], parent: _Node | None) -> None:
        self.policy = policy
        self.expected = expected
        self.parent = parent
        self.children: list[_Node] = []
        if parent is not None:
            parent.children.append(self)


class PolicyState:
    """valid_policy_tree, explicit_policy, inhibit_anyPolicy and policy_mapping."""

    def __init__(
        self,
        n: int,
        *,
        initial_policies: Collection[str] | None,
        explicit_policy: bool,
        inhibit_policy_mapping: bool,
        inhibit_any_policy: bool,
    ) -> None:
        # RFC 5280 §6.1.2 (a), (d)-(f)
        self.n = n
        self.user_set = frozenset(initial_policies) if initial_policies else frozenset({ANY_POLICY})
        root = _Node(ANY_POLICY, {ANY_POLICY}, None)
        self.levels: list[list[_Node]] | None = [[root]]
        self.explicit = 0 if explicit_policy else n + 1
        self.inhibit_any = 0 if inhibit_any_policy else n + 1
        self.mapping = 0 if inhibit_policy_mapping else n + 1

    # -- RFC 5280 §6.1.3 (d)-(f) ------------------------------------------------------
    def process(self, info: CertInfo, i: int) -> str | None:
        """Process certificate ``i`` (1-based); returns an error message or None."""
        policies = info.policies
        if policies is not None and len(policies) > MAX_POLICIES:
            return f"asserts {len(policies)} policies (limit {MAX_POLICIES})"
        if policies is not None and self.levels is not None:
            self._add_level(policies, info, i)
        elif policies is None:
            self.levels = None  # (e)
        if self.explicit <= 0 and self.levels is None:  # (f)
            return "no valid set of policies (explicit policy required)"
        return None

    def _add_level(self, policies: dict[str, None], info: CertInfo, i: int) -> None:
        assert self.levels is not None
        parents = self.levels[-1]
        level: list[_Node] = []
        for policy in policies:  # (d)(1)
            if policy == ANY_POLICY:
                continue
            matched = False
            for node in parents:
                if policy in node.expected:
                    level.append(_Node(policy, {policy}, node))
                    matched = True
            if not matched:
                for node in parents:
                    if node.policy == ANY_POLICY:
                        level.append(_Node(policy, {policy}, node))
        if ANY_POLICY in policies and (
            self.inhibit_any > 0 or (i < self.n and info.self_issued)
        ):  # (d)(2)
            for node in parents:
                present = {c.policy for c in node.children}
                for policy in list(node.expected):
                    if policy not in present:
                        level.append(_Node(policy, {policy}, node))
        self.levels.append(level)
        self._prune(len(self.levels) - 1)  # (d)(3)

    def _prune(self, depth: int) -> None:
        assert self.levels is not None
        for d in range(depth - 1, -1, -1):
            keep = []
            for node in self.levels[d]:
                if node.children:
                    keep.append(node)
                elif node.parent is not None:
                    node.parent.children.remove(node)
            self.levels[d] = keep
        if not self.levels[0] or not self.levels[depth]:
            self.levels = None

    # -- RFC 5280 §6.1.4 (a)-(b), (h)-(j) -------------------------------------------
    def prepare(self, info: CertInfo) -> str | None:
        """Prepare for the next certificate after intermediate ``info``."""
        mappings = info.policy_mappings
        if mappings:
            if len(mappings) > MAX_POLICIES:
                return f"has {len(mappings)} policy mappings (limit {MAX_POLICIES})"
            for issuer_p, subject_p in mappings:  # (a)
                if ANY_POLICY in (issuer_p, subject_p):
                    return 'contains a policy mapping for the "any policy"'
            if self.levels is not None:
                self._map(mappings)
        if not info.self_issued:  # (h)
            if self.explicit > 0:
                self.explicit -= 1
            if self.mapping > 0:
                self.mapping -= 1
            if self.inhibit_any > 0:
                self.inhibit_any -= 1
        if info.require_explicit is not None and info.require_explicit < self.explicit:  # (i)
            self.explicit = info.require_explicit
        if info.inhibit_mapping is not None and info.inhibit_mapping < self.mapping:
            self.mapping = info.inhibit_mapping
        if info.inhibit_any is not None and info.inhibit_any < self.inhibit_any:  # (j)
            self.inhibit_any = info.inhibit_any
        return None

    def _map(self, mappings: tuple[tuple[str, str], ...]) -> None:
        assert self.levels is not None
        mapped: dict[str, set[str]] = {}
        for issuer_p, subject_p in mappings:
            mapped.setdefault(issuer_p, set()).add(subject_p)
        level = self.levels[-1]
        depth = len(self.levels) - 1
        if self.mapping > 0:  # (b)(1)
            for issuer_p, subjects in mapped.items():
                nodes = [node for node in level if node.policy == issuer_p]
                if nodes:
                    for node in nodes:
                        node.expected = set(subjects)
                    continue
                for any_node in [node for node in level if node.policy == ANY_POLICY]:
                    if any_node.parent is not None:
                        level.append(_Node(issuer_p, set(subjects), any_node.parent))
        else:  # (b)(2)
            for node in [node for node in level if node.policy in mapped]:
                level.remove(node)
                if node.parent is not None:
                    node.parent.children.remove(node)
            self._prune(depth)

    # -- RFC 5280 §6.1.5 (a)-(b), (g) ------------------------------------------------
    def finish(self, leaf: CertInfo) -> str | None:
        """Wrap-up after the end-entity certificate; returns an error message or None."""
        if self.explicit > 0:
            self.explicit -= 1
        if leaf.require_explicit == 0:
            self.explicit = 0
        if self.levels is not None and ANY_POLICY not in self.user_set:
            self._intersect()
        if self.explicit > 0 or self.levels is not None:
            return None
        return "no valid set of policies"

    def _intersect(self) -> None:
        assert self.levels is not None
        depth = len(self.levels) - 1
        # (g)(iii)(1): nodes whose parent is anyPolicy form the valid_policy_node_set.
        node_set = [
            node
            for lvl in self.levels[1:]
            for node in lvl
            if node.parent is not None and node.parent.policy == ANY_POLICY
        ]
        for node in node_set:  # (g)(iii)(2)
            if node.policy != ANY_POLICY and node.policy not in self.user_set:
                self._delete_subtree(node)
        leaf_any = [n for n in self.levels[depth] if n.policy == ANY_POLICY]
        if leaf_any:  # (g)(iii)(3)
            valid = {n.policy for n in node_set}
            for any_node in leaf_any:
                parent = any_node.parent
                if parent is None:
                    continue
                for policy in self.user_set - valid:
                    self.levels[depth].append(_Node(policy, {policy}, parent))
                self.levels[depth].remove(any_node)
                parent.children.remove(any_node)
        self._prune(depth)  # (g)(iii)(4)

    def _delete_subtree(self, node: _Node) -> None:
        assert self.levels is not None
        stack = [node]
        doomed = set()
        while stack:
            current = stack.pop()
            doomed.add(id(current))
            stack.extend(current.children)
        for d, lvl in enumerate(self.levels):
            self.levels[d] = [n for n in lvl if id(n) not in doomed]
        if node.parent is not None and node in node.parent.children:
            node.parent.children.remove(node)

