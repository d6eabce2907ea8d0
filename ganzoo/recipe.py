"""Recipes: YAML (safe loading only) with line numbers for every key, and ``--set`` overrides."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import RecipeError
from .schema import did_you_mean

SECTIONS = ("model", "components", "losses", "data", "optim", "train")
REQUIRED_SECTIONS = ("model", "data", "optim")


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``2e-4`` as a float and only ``true``/``false`` as booleans (not yes/no/on/off)."""


_Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != "tag:yaml.org,2002:bool"]
                                   for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def yaml_value(text: str) -> Any:
    """Parse one YAML value with the recipe loader (used for ``--set`` values)."""
    return yaml.load(text, Loader=_Loader)


def dump(data: Any) -> str:
    """YAML text of plain data (tuples written as lists), keys in insertion order."""
    return yaml.safe_dump(_plain(data), sort_keys=False, default_flow_style=None, width=110)


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


@dataclass
class Recipe:
    """A recipe as written (plus overrides), with the source line of every dotted key."""

    data: dict[str, Any]
    source: str = "<recipe>"
    name: str = "recipe"
    lines: dict[str, int] = field(default_factory=dict)
    overridden: set[str] = field(default_factory=set)

    def where(self, path: str) -> str:
        """``file:line (dotted.path)``, or ``--set dotted.path`` when an override put it there."""
        for o in sorted(self.overridden):
            created = path not in self.lines and o.startswith(path + ".")
            if path == o or path.startswith(o + ".") or created:
                return f"--set {o}" + (f" ({path})" if path != o else "")
        p = path
        while p:
            if p in self.lines:
                return f"{self.source}:{self.lines[p]} ({path})" if path else f"{self.source}:{self.lines[p]}"
            p = p.rpartition(".")[0]
        return f"{self.source} ({path})" if path else self.source

    def error(self, path: str, message: str, hint: str | None = None) -> RecipeError:
        return RecipeError(message, where=self.where(path), hint=hint)

    def section(self, name: str) -> Any:
        return self.data.get(name)


#: bounds on a recipe as it expands: every alias counts as a copy of its anchor's subtree (a recipe has ~100 values)
MAX_VALUES = 100_000
MAX_DEPTH = 64


def _check_expansion(root: yaml.Node, source: str) -> None:
    """Refuse alias bombs ("billion laughs"), recursive aliases and absurd nesting before anything walks them.

    The expanded size is computed once per distinct node (aliases share nodes), so this costs the size of the
    text, not of its expansion.
    """
    seen: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded values, depth below)

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        where = f"{source}:{node.start_mark.line + 1}"
        if id(node) in seen:
            size, height = seen[id(node)]
            if size < 0:
                raise RecipeError("an alias refers to the mapping or list that contains it", where=where)
        else:
            seen[id(node)] = (-1, 0)
            children: list[yaml.Node] = []
            if isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            elif isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            size, height = 1, 0
            for child in children:
                s, h = measure(child, depth + 1)
                size, height = size + s, max(height, h + 1)
                if size > MAX_VALUES:
                    raise RecipeError(f"the recipe expands to more than {MAX_VALUES:,} values through YAML "
                                      "aliases (an alias bomb?)", where=source,
                                      hint="a recipe holds a few hundred values; use fewer nested aliases")
            seen[id(node)] = (size, height)
        if depth + height > MAX_DEPTH:
            raise RecipeError(f"the recipe nests deeper than {MAX_DEPTH} levels", where=where)
        return size, height

    measure(root, 0)


def _record_lines(node: yaml.Node, prefix: str, lines: dict[str, int], source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = f"{prefix}.{key}" if prefix else key
            if key in seen:
                raise RecipeError(f"duplicate key {key!r}", where=f"{source}:{key_node.start_mark.line + 1} ({path})")
            seen.add(key)
            lines[path] = key_node.start_mark.line + 1
            _record_lines(value_node, path, lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}.{i}"
            lines[path] = item.start_mark.line + 1
            _record_lines(item, path, lines, source)


def parse_recipe(text: str, source: str = "<recipe>", name: str = "recipe") -> Recipe:
    """Parse recipe text; YAML errors and non-mapping documents become :class:`RecipeError`."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[str, int] = {}
        if node is not None:
            _check_expansion(node, source)
            _record_lines(node, "", lines, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = exc.problem or str(exc)
        raise RecipeError(f"YAML syntax error: {problem}", where=f"{source}{line}") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"YAML error: {exc}", where=source) from None
    except RecursionError:  # the composer recurses once per level of nesting
        raise RecipeError(f"the recipe nests deeper than {MAX_DEPTH} levels", where=source) from None
    finally:
        loader.dispose()
    if data is None:
        raise RecipeError("the recipe is empty", where=source, hint=f"a recipe has the sections {', '.join(SECTIONS)}")
    if not isinstance(data, dict):
        raise RecipeError(f"a recipe is a mapping of sections, got {type(data).__name__}", where=source)
    # Anchors/aliases share objects: copy so that an override of one slot does not change its twin
    # (copy.deepcopy would keep them shared: its memo maps both references to one copy).
    return Recipe(_unshared(data), source, name, lines)


def _unshared(x: Any) -> Any:
    """A copy of nested dicts/lists in which no two places hold the same object."""
    if isinstance(x, dict):
        return {k: _unshared(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_unshared(v) for v in x]
    return copy.deepcopy(x)


def recipe_from_dict(data: dict[str, Any], source: str, name: str = "recipe") -> Recipe:
    """A recipe from plain data (e.g. the resolved recipe stored in a checkpoint)."""
    return Recipe(copy.deepcopy(data), source, name)


def load_recipe(path: str | Path, overrides: Iterable[str] = (), name: str | None = None) -> Recipe:
    """Read a recipe file and apply ``--set KEY=VALUE`` overrides; ``name`` (default: the file's stem) names runs."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a recipe file" if path.is_dir() else "not found"
        raise RecipeError(f"recipe {what}: {path}", hint="recipes live in recipes/, e.g. recipes/pix2pix.yaml")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc}") from None
    recipe = parse_recipe(text, source=str(path), name=name or path.stem)
    for assignment in overrides:
        apply_override(recipe, assignment)
    return recipe


QUOTING = ("use --set KEY=VALUE, one word (no spaces around =), and quote values with spaces: "
           "--set data='{name: aligned_folder, root: datasets/facades}'")


def stray_words(words: Iterable[str], overrides: Iterable[str]) -> None:
    """Explain words left over on ``ganzoo run``'s command line: almost always a ``--set`` value that was written
    with a space (``--set train.steps 50``) or a mapping the shell split (``--set data={name: x, root: y}``)."""
    words = list(words)
    if not words:
        return
    rest = " ".join(words)
    split = next((o for o in overrides if "=" not in o or _unbalanced(o)), None)
    if split is None:
        raise RecipeError(f"unexpected argument(s): {rest}", hint=QUOTING)
    key, sep, value = split.partition("=")
    if sep:
        meant = f"--set {key}='{value} {rest}'"
    else:
        meant = f"--set {key}={words[0]}" if len(words) == 1 else f"--set {key}='{rest}'"
    raise RecipeError(f"--set {split} is followed by {rest!r}: one --set takes one KEY=VALUE word",
                      hint=f"did you mean {meant}? {QUOTING}")


def _unbalanced(text: str) -> bool:
    return text.count("{") > text.count("}") or text.count("[") > text.count("]")


def full_paths(recipe: Recipe, key: str, limit: int = 3) -> list[str]:
    """Dotted paths of the recipe (and of the ``train:`` section's settings) that end with ``key``."""
    from .config import TrainConfig  # a plain dataclass: its fields are the train section's keys

    found: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                path = f"{prefix}.{k}" if prefix else str(k)
                if path.endswith("." + key) and path not in found:
                    found.append(path)
                walk(v, path)

    walk(recipe.data, "")
    if "." not in key and key in TrainConfig.__dataclass_fields__ and f"train.{key}" not in found:
        found.insert(0, f"train.{key}")
    return found[:limit]


def apply_override(recipe: Recipe, assignment: str) -> None:
    """Apply ``dotted.path=value`` (value parsed as YAML) to the recipe, creating mappings on the way."""
    key, sep, raw = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"--set {assignment!r}: expected KEY=VALUE, e.g. --set train.steps=100", hint=QUOTING)
    parts = key.split(".")
    if parts[0] not in SECTIONS:
        meant = full_paths(recipe, key)
        guess = f" (did you mean {' or '.join(meant)}?)" if meant else did_you_mean(parts[0], SECTIONS)
        raise RecipeError(f"--set {key}: unknown section {parts[0]!r}{guess}",
                          hint=f"keys start with a section: {', '.join(SECTIONS)}")
    try:
        value = yaml_value(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecipeError(f"--set {key}: cannot parse value {raw!r}: {problem}", hint=QUOTING) from None
    node: Any = recipe.data
    for i, part in enumerate(parts[:-1]):
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            parent = ".".join(parts[: i + 1])
            raise RecipeError(f"--set {key}: {parent} is a {type(node).__name__}, not a mapping")
    node[parts[-1]] = value
    recipe.overridden.add(key)
