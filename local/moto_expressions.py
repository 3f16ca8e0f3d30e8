"""moto's DynamoDB update expressions, made cheaper for the local emulator (issue 16).

Profiled under the drive bench (py-spy on the emulator's DynamoDB process), moto's
``update_item`` was a third of that process's time, and most of it the expression machinery:
every Update of a TransactWriteItems is tokenized and parsed twice (once by the request
validation in ``responses.py``, once in the backend), and each of the ten processors of
``UpdateExpressionValidator`` walks the tree calling ``nodes_to_be_processed()`` - which
rebuilds a tuple from a freshly built dict - at every node.

Two changes, neither altering what moto answers:

* ``UpdateExpressionParser.make`` is memoized by expression text. The tree it returns is only
  read by its callers (``find_clauses``) or deep-copied before it is changed
  (``Validator.__init__`` copies it, and the executor works on that copy), so one parsed tree
  can serve every request with the same text. A text that fails to parse raises as before
  (exceptions are not cached).
* ``DepthFirstTraverser.traverse_node_recursively`` asks ``nodes_to_be_processed()`` once per
  traversal instead of once per node; the walk, the order and the processing are moto's.
"""

from __future__ import annotations

import functools
from typing import Any

# moto's parsing package is untyped (moto imports it with `type: ignore` itself)
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

PARSED_EXPRESSIONS = 2048  # distinct update expressions kept parsed (OrderHub has a few dozen)
_MARK = "_orderhub_expressions"


def _memoized_make(original: Any) -> Any:
    parse = functools.lru_cache(maxsize=PARSED_EXPRESSIONS)(original)

    def make(cls: type, expression_str: str) -> Any:
        return parse(cls, expression_str)

    setattr(make, _MARK, True)
    return classmethod(make)


def _traverse(self: DepthFirstTraverser, node: Any, child_id: int = -1) -> Any:
    """moto's traverse_node_recursively, with the node types asked for once per walk."""
    return _walk(self, node, child_id, self.nodes_to_be_processed())


def _walk(self: DepthFirstTraverser, node: Any, child_id: int, types: tuple[type, ...]) -> Any:
    if isinstance(node, Node):
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                _walk(self, child_node, i, types)
        if isinstance(node, types):
            node = self.process(node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
    return node


setattr(_traverse, _MARK, True)


def patch_expressions() -> None:
    """Apply both changes (idempotent, process-wide)."""
    if not getattr(UpdateExpressionParser.__dict__["make"].__func__, _MARK, False):
        original = UpdateExpressionParser.__dict__["make"].__func__
        UpdateExpressionParser.make = _memoized_make(original)
    if not getattr(DepthFirstTraverser.traverse_node_recursively, _MARK, False):
        DepthFirstTraverser.traverse_node_recursively = _traverse


def is_patched() -> bool:
    """True once :func:`patch_expressions` ran in this process."""
    return bool(getattr(DepthFirstTraverser.traverse_node_recursively, _MARK, False))
