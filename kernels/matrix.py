"""The kernel matrix (`matrix.toml`) as typed variants, each with the worker spec it compiles from.

The TOML is the one place that lists variants; this module fills in defaults, derives each
variant's features (and so what counts as "feature absent" for it), checks the fields, and turns a
variant into the JSON spec `worker.py` reads.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from stacker.errors import ConfigError

MATRIX_FILE = Path(__file__).with_name("matrix.toml")
GPU_TARGET = "gpu"  # a group whose `target` is this is compiled for the --gpu target

_SHAPE_FIELDS = {"batch", "seqlen_q", "seqlen_k", "heads", "heads_kv", "head_dim"}
_FIELDS = _SHAPE_FIELDS | {"id", "pass", "dtype", "causal", "varlen", "page_size", "num_splits",
                           "block_sparse", "dropout_p", "tma"}
_FEATURE_KEYS = {"absent_asserts", "requires_kwargs", "requires_modules", "expect_kernel"}


@dataclass(frozen=True)
class Variant:
    """One compile of one kernel path: group (kernel family) + the variant's own fields."""

    group: str
    kernel_path: str
    target: str  # a name in targets.toml, or GPU_TARGET
    fields: dict
    features: tuple[str, ...]
    spec: dict

    @property
    def id(self) -> str:
        return f"{self.group}-{self.fields['id']}"

    @property
    def title(self) -> str:
        f = self.fields
        parts = [self.group.upper(), f["pass"], f["dtype"], f"d{f['head_dim']}", "causal" if f["causal"] else "non-causal"]
        if f["heads"] != f["heads_kv"]:
            parts.append(f"{f['heads']}q/{f['heads_kv']}kv")
        if f.get("varlen"):
            parts.append("varlen")
        if f.get("page_size"):
            parts.append(f"paged {f['page_size']}")
        if f.get("num_splits", 1) > 1:
            parts.append(f"split {f['num_splits']}")
        if f.get("block_sparse"):
            parts.append("block-sparse {}x{}".format(*f["block_sparse"]["block_size"]))
        if f.get("dropout_p"):
            parts.append(f"dropout {f['dropout_p']}")
        if f.get("tma"):
            parts.append("TMA kernel")
        return " ".join(parts)


def load_matrix(path: Path = MATRIX_FILE) -> list[Variant]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    defaults = raw.get("defaults", {})
    features = raw.get("features", {})
    for name, table in features.items():
        unknown = set(table) - _FEATURE_KEYS
        if unknown:
            raise ConfigError(f"{path.name}: [features.{name}] has unknown keys {sorted(unknown)}")
    variants: list[Variant] = []
    for group in raw.get("group", []):
        for key in ("name", "kernel_path", "target", "variants"):
            if key not in group:
                raise ConfigError(f"{path.name}: a [[group]] needs '{key}'")
        for entry in group["variants"]:
            variants.append(_variant(path, group, defaults, features, entry))
    seen: set[str] = set()
    for variant in variants:
        if variant.id in seen:
            raise ConfigError(f"{path.name}: variant id '{variant.id}' is used twice")
        seen.add(variant.id)
    return variants


def _variant(path: Path, group: dict, defaults: dict, feature_table: dict, entry: dict) -> Variant:
    fields = {**defaults, **entry}
    where = f"{path.name}: [{group['name']}] {entry.get('id', '?')}"
    unknown = set(fields) - _FIELDS
    if unknown:
        raise ConfigError(f"{where}: unknown fields {sorted(unknown)}")
    for required in ("id", "pass", "dtype", "causal", *_SHAPE_FIELDS):
        if required not in fields:
            raise ConfigError(f"{where}: needs '{required}'")
    if fields["pass"] not in ("fwd", "bwd"):
        raise ConfigError(f"{where}: pass must be 'fwd' or 'bwd'")
    if fields["dtype"] not in ("bf16", "fp16"):
        raise ConfigError(f"{where}: dtype must be 'bf16' or 'fp16'")
    if fields["heads"] % fields["heads_kv"]:
        raise ConfigError(f"{where}: heads must be a multiple of heads_kv")
    if fields.get("varlen") and fields.get("page_size"):
        raise ConfigError(f"{where}: paged variants use page_table + seqused_k, not varlen")

    features = _features_of(fields)
    for feature in features:
        if feature not in feature_table:
            raise ConfigError(f"{where}: feature '{feature}' has no [features.{feature}] table")
    spec = {key: value for key, value in fields.items() if key != "tma"}
    for feature in features:
        table = feature_table[feature]
        for key in ("absent_asserts", "requires_kwargs", "requires_modules"):
            if table.get(key):
                spec[key] = [*spec.get(key, []), *table[key]]
        if "expect_kernel" in table:
            spec["expect_kernel"] = table["expect_kernel"]
    return Variant(group=group["name"], kernel_path=group["kernel_path"], target=group["target"],
                   fields=fields, features=features, spec=spec)


def _features_of(fields: dict) -> tuple[str, ...]:
    features = []
    if fields.get("page_size"):
        features.append("paged")
    if fields.get("num_splits", 1) > 1:
        features.append("splitkv")
    if fields.get("block_sparse"):
        features.append("block_sparse")
    if fields.get("dropout_p"):
        features.append("dropout")
    if fields.get("tma"):
        features.append("tma")
    return tuple(features)
