"""Tree ensembles converted in float64, as scikit-learn computes them (regressors, boosting;
forests that classify read float32 instead, see ``onnx_model._float32_trees``).

skl2onnx computes thresholds and leaf values in float64, then writes them as float32
attributes, and its ``TreeEnsembleRegressor`` returns float32: a regression value of
300,000 carries an error of 0.02, a HistGradientBoosting split compares against a rounded
threshold, and 40 boosting rounds of float32 sums drift past a 1e-4 parity tolerance.
``double_tree_converters`` runs skl2onnx's own tree converters on a container that keeps
the float64 values they compute:

* a ``TreeEnsembleRegressor`` (regressors) becomes ``ai.onnx.ml`` opset 5
  ``TreeEnsemble``, float64 from thresholds to output (onnxruntime >= 1.21);
* a ``TreeEnsembleClassifier`` gets its thresholds and weights as float64 tensors
  (``ai.onnx.ml`` opset 3), so it splits and sums in float64; its probabilities come out as
  float32, which ``declare_float_probabilities`` casts to the float64 skl2onnx declared.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import Any

ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 5
_AS_TENSOR = ("nodes_values", "nodes_hitrates", "class_weights", "target_weights", "base_values")
_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4}
_AGGREGATES = {"AVERAGE": 0, "SUM": 1, "MIN": 2, "MAX": 3}
_TRANSFORMS = {"NONE": 0, "SOFTMAX": 1, "LOGISTIC": 2, "SOFTMAX_ZERO": 3, "PROBIT": 4}


def double_tree_converters() -> dict[type, Callable[..., None]]:
    """``custom_conversion_functions`` for ``convert_sklearn``: every scikit-learn tree
    ensemble's skl2onnx converter, writing float64 trees."""
    from skl2onnx._supported_operators import sklearn_operator_name_map
    from skl2onnx.common._registration import get_converter
    from sklearn import ensemble, tree

    classes = [
        ensemble.RandomForestClassifier,
        ensemble.RandomForestRegressor,
        ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.GradientBoostingClassifier,
        ensemble.GradientBoostingRegressor,
        ensemble.HistGradientBoostingClassifier,
        ensemble.HistGradientBoostingRegressor,
        tree.DecisionTreeClassifier,
        tree.DecisionTreeRegressor,
        tree.ExtraTreeClassifier,
        tree.ExtraTreeRegressor,
    ]
    return {
        cls: partial(_convert, get_converter(sklearn_operator_name_map[cls])) for cls in classes
    }


def _convert(registered: Any, scope: Any, operator: Any, container: Any) -> None:
    function = getattr(registered, "_fct", registered)  # skl2onnx wraps what it registers
    accepts_version = "op_version" in inspect.signature(function).parameters
    kwargs = {"op_version": 3} if accepts_version else {}  # 3: float64 attributes
    function(scope, operator, _Float64Trees(container), **kwargs)


class _Float64Trees:
    """A skl2onnx container that writes tree ensembles with the float64 values it is given."""

    def __init__(self, container: Any) -> None:
        self._container = container

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(
        self,
        op_type: str,
        inputs: Any,
        outputs: Any,
        op_domain: str = "",
        op_version: int | None = None,
        **attrs: Any,
    ) -> None:
        add = self._container.add_node
        inputs = [inputs] if isinstance(inputs, str) else list(inputs)
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
        if op_domain == ML_DOMAIN and op_type == "TreeEnsembleRegressor":
            _tree_ensemble(add, inputs, outputs, attrs)
            return
        if op_domain == ML_DOMAIN and op_type == "TreeEnsembleClassifier":
            from onnx import numpy_helper

            for key in _AS_TENSOR:
                if key in attrs:
                    values = _float64(attrs.pop(key))
                    attrs[f"{key}_as_tensor"] = numpy_helper.from_array(values, name=key)
            op_version = 3
        add(op_type, inputs, outputs, op_domain=op_domain, op_version=op_version, **attrs)


def _float64(values: Any) -> Any:
    import numpy as np

    return np.asarray(values, dtype=np.float64).ravel()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _tree_ensemble(add: Callable[..., None], inputs: Any, outputs: Any, a: dict[str, Any]) -> None:
    """A ``TreeEnsembleRegressor``'s attributes as ``TreeEnsemble`` (+ ``Add`` for base values).

    The old layout lists every node with per-tree ids and leaf weights by (tree, node);
    the new one lists interior nodes and leaves apart, children by position."""
    import numpy as np
    from onnx import numpy_helper

    modes = [_text(m) for m in a["nodes_modes"]]
    transform = _text(a.get("post_transform", "NONE"))
    base = _float64(a.get("base_values", []))
    unsupported = {m for m in modes if m not in _MODES and m != "LEAF"}
    if unsupported or (base.any() and transform != "NONE"):
        raise ValueError(
            f"a tree ensemble with {sorted(unsupported) or 'a post transform after base values'} "
            "is not supported in float64"
        )
    keys = list(zip(a["nodes_treeids"], a["nodes_nodeids"], strict=True))
    splits = _float64(a["nodes_values"])
    missing = list(a.get("nodes_missing_value_tracks_true") or [0] * len(keys))
    weights: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
    for tree, node, target, weight in zip(
        a["target_treeids"],
        a["target_nodeids"],
        a["target_ids"],
        _float64(a["target_weights"]),
        strict=True,
    ):
        weights[tree, node].append((int(target), float(weight)))
    interior = [i for i, m in enumerate(modes) if m != "LEAF"]
    position = {keys[i]: p for p, i in enumerate(interior)}
    leaves: dict[tuple[int, int], int] = {}
    leaf_targets: list[int] = []
    leaf_weights: list[float] = []

    def leaf(key: tuple[int, int]) -> int:
        if key not in leaves:
            targets = weights.get(key) or [(0, 0.0)]
            if len({t for t, _ in targets}) != 1:
                raise ValueError("a tree ensemble whose leaves feed several targets")
            leaves[key] = len(leaf_targets)
            leaf_targets.append(targets[0][0])
            leaf_weights.append(sum(w for _, w in targets))
        return leaves[key]

    def child(tree: int, node: int) -> tuple[int, int]:
        return (0, position[tree, node]) if (tree, node) in position else (1, leaf((tree, node)))

    rows: list[
        tuple[Any, ...]
    ] = []  # featureid, mode, split, true leaf?, true, false leaf?, false, missing
    for i in interior:
        tree = keys[i][0]
        rows.append(
            (
                a["nodes_featureids"][i],
                _MODES[modes[i]],
                splits[i],
                *child(tree, a["nodes_truenodeids"][i]),
                *child(tree, a["nodes_falsenodeids"][i]),
                missing[i],
            )
        )
    pointed_at = {
        (keys[i][0], a[side][i])
        for i in interior
        for side in ("nodes_truenodeids", "nodes_falsenodeids")
    }
    roots = []
    for key in dict.fromkeys(keys):  # trees in order; a root is the node nothing points at
        if key in pointed_at:
            continue
        if key in position:
            roots.append(position[key])
        else:  # a tree that is one leaf: a split whose both sides are that leaf
            roots.append(len(rows))
            rows.append((0, 0, 0.0, 1, leaf(key), 1, leaf(key), 0))
    columns = list(zip(*rows, strict=True))
    scores = outputs[0] + "_trees" if base.any() else outputs[0]
    add(
        "TreeEnsemble",
        inputs,
        [scores],
        op_domain=ML_DOMAIN,
        op_version=3,  # skl2onnx refuses 5; declare_float_probabilities sets the import
        n_targets=int(a.get("n_targets", 1)),
        aggregate_function=_AGGREGATES[_text(a.get("aggregate_function", "SUM"))],
        post_transform=_TRANSFORMS[transform],
        tree_roots=roots,
        nodes_featureids=list(columns[0]),
        nodes_modes=numpy_helper.from_array(np.asarray(columns[1], dtype=np.uint8)),
        nodes_splits=numpy_helper.from_array(np.asarray(columns[2], dtype=np.float64)),
        nodes_trueleafs=list(columns[3]),
        nodes_truenodeids=list(columns[4]),
        nodes_falseleafs=list(columns[5]),
        nodes_falsenodeids=list(columns[6]),
        nodes_missing_value_tracks_true=list(columns[7]),
        leaf_targetids=leaf_targets,
        leaf_weights=numpy_helper.from_array(np.asarray(leaf_weights, dtype=np.float64)),
    )
    if base.any():
        offset = outputs[0] + "_base"
        add("Constant", [], [offset], value=numpy_helper.from_array(base.reshape(1, -1)))
        add("Add", [scores, offset], outputs)


def declare_float_probabilities(model: Any) -> None:
    """A ``TreeEnsembleClassifier`` returns float32 probabilities; where skl2onnx declared
    them float64, the node writes under a new name and a ``Cast`` gives the declared type."""
    from onnx import TensorProto, helper

    graph = model.graph
    declared = {v.name: v.type.tensor_type.elem_type for v in (*graph.output, *graph.value_info)}
    nodes = []
    for node in graph.node:
        nodes.append(node)
        if node.domain != ML_DOMAIN or node.op_type != "TreeEnsembleClassifier":
            continue
        probabilities = node.output[1]
        if declared.get(probabilities, TensorProto.DOUBLE) == TensorProto.DOUBLE:
            node.output[1] = probabilities + "_float"
            nodes.append(
                helper.make_node("Cast", [node.output[1]], [probabilities], to=TensorProto.DOUBLE)
            )
    del graph.node[:]
    graph.node.extend(nodes)
    if any(n.domain == ML_DOMAIN and n.op_type == "TreeEnsemble" for n in nodes):
        for opset in model.opset_import:
            if opset.domain == ML_DOMAIN:
                opset.version = ML_OPSET


def binary_trees_as_one_score(model: Any) -> None:
    """A two-class ``TreeEnsembleClassifier`` whose leaves all weigh class id 0 (skl2onnx's
    forests; onnxruntime reads that one score as the second class's probability) becomes a one-target ``TreeEnsembleRegressor`` of that class's probability,
    the other class's as 1 - p, and the label where p > 1 - p (ties to the first class, as
    scikit-learn's argmax). onnxruntime runs one-target ensembles over blocks of rows, tree
    by tree, and classifiers row by row through every tree: on 100,000 rows and 100
    depth-10 trees the regressor is 1.3-2x faster. Same float32 thresholds and weights, so
    the same leaves and sums."""
    from onnx import TensorProto, helper

    nodes = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        labels = attrs.get("classlabels_strings") or attrs.get("classlabels_int64s") or []
        if (
            node.domain != ML_DOMAIN
            or node.op_type != "TreeEnsembleClassifier"
            or len(labels) != 2
            or set(attrs.get("class_ids", [])) != {0}
            or _text(attrs.get("post_transform", "NONE")) != "NONE"
            or any(attrs.get("base_values", []))
            or any(key.endswith("_as_tensor") for key in attrs)
        ):
            nodes.append(node)
            continue
        name = node.output[0]
        regressor = {k: v for k, v in attrs.items() if k.startswith("nodes_")}
        regressor.update(
            target_ids=[0] * len(attrs["class_ids"]),
            target_nodeids=attrs["class_nodeids"],
            target_treeids=attrs["class_treeids"],
            target_weights=attrs["class_weights"],
            n_targets=1,
            aggregate_function="SUM",
        )
        score, rest, one = f"{name}_score", f"{name}_rest", f"{name}_one"
        both = [rest, score]  # onnxruntime's binary case: the one score is the second class's
        is_second, index = f"{name}_is_second", f"{name}_index"
        table, column, axis = f"{name}_classes", f"{name}_column", f"{name}_axis"
        kind = TensorProto.STRING if attrs.get("classlabels_strings") else TensorProto.INT64
        nodes += [
            helper.make_node(
                "TreeEnsembleRegressor", node.input, [score], domain=ML_DOMAIN, **regressor
            ),
            helper.make_node(
                "Constant", [], [one], value=helper.make_tensor(one, TensorProto.FLOAT, [], [1.0])
            ),
            helper.make_node("Sub", [one, score], [rest]),
            helper.make_node("Concat", both, [node.output[1]], axis=1),
            helper.make_node("Greater", [both[1], both[0]], [is_second]),
            helper.make_node("Cast", [is_second], [index], to=TensorProto.INT64),
            helper.make_node(
                "Constant", [], [table], value=helper.make_tensor(table, kind, [2], labels)
            ),
            helper.make_node("Gather", [table, index], [column]),
            helper.make_node(
                "Constant", [], [axis], value=helper.make_tensor(axis, TensorProto.INT64, [1], [1])
            ),
            helper.make_node("Squeeze", [column, axis], [name]),
        ]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
