"""Training configuration: YAML (``yaml.safe_load``) into frozen dataclasses, validated strictly.

Example ``train.yaml``::

    model: {name: resnet15, options: {channels: 3}}
    task: qg
    data: {train: [qg_train.root], validation: [qg_val.root]}
    optimizer: {name: adam, learning_rate: 1.0e-3, schedule: cosine}
    training: {epochs: 10, batch_size: 64, patience: 3, seed: 0}
    output: runs/qg

Relative paths in ``data`` and ``output`` are relative to the directory of the config
file (``configs/qg.yaml`` with ``output: ../runs/qg`` writes ``runs/qg`` of the
repository wherever it is run from). Nothing in a config is evaluated; unknown keys are
errors that list the valid ones. Comment lines at the top holding ``e2ejax simulate``
commands say how the data were made (:func:`simulate_commands` reads them).

``data`` may list ML4SCI frame files (``.h5``, ``.hdf5``, ``.parquet``; docs/ML4SCI.md)
instead of ROOT files, each as ``path`` or ``path:START:STOP`` (its rows ``[START, STOP)``,
so one file can give the train, validation and test rows); ``data.format`` names their
format when it should not be detected. ``data.track_impact`` (``pt_weighted`` or ``mean``,
:mod:`e2ejax.conventions`) is how the d0 / dz of images built from sparse tracks are made.
``data.max_events`` caps the events read from every file list; ``data.train_events`` caps the
training files only (learning curves: the validation sample stays the same).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import optax
import yaml

from e2ejax import tasks
from e2ejax.conventions import check_track_impact
from e2ejax.errors import InputError
from e2ejax.nets import REGISTRY, make_config

__all__ = ["ModelSpec", "DataSpec", "OptimizerSpec", "TrainingSpec", "TrainConfig", "load_config", "make_optimizer",
           "parse_config", "missing_data", "simulate_commands", "display_path"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DataSpec:
    train: tuple[str, ...]
    validation: tuple[str, ...] = ()
    test: tuple[str, ...] = ()
    max_events: int | None = None
    train_events: int | None = None  # at most this many events of the training files (learning curves); validation read in full
    format: str | None = None  # the format of ML4SCI frame files (e2ejax.io.FRAME_FORMATS); None: detected per file
    track_impact: str = "pt_weighted"  # d0 / dz per pixel of images built from sparse tracks (e2ejax.conventions)


@dataclass(frozen=True)
class OptimizerSpec:
    name: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"  # constant | cosine
    warmup_steps: int = 0
    weight_decay: float = 0.0
    clip_norm: float | None = None


@dataclass(frozen=True)
class TrainingSpec:
    epochs: int = 10
    batch_size: int = 64
    patience: int = 3
    seed: int = 0
    decorrelation: float = 0.0
    keep_checkpoints: int = 3


@dataclass(frozen=True)
class TrainConfig:
    model: ModelSpec
    task: str
    data: DataSpec
    optimizer: OptimizerSpec = OptimizerSpec()
    training: TrainingSpec = TrainingSpec()
    output: str = "runs/e2ejax"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


#: annotation (as written in the dataclasses above) -> (check, description for messages)
_TYPES = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "float": (_is_number, "a number"),
    "dict": (lambda v: isinstance(v, dict), "a mapping"),
    "int | None": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer or null"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "float | None": (lambda v: v is None or _is_number(v), "a number or null"),
    "tuple[str, ...]": (lambda v: isinstance(v, tuple) and all(isinstance(x, str) for x in v), "a list of strings"),
}


def _check_type(cls, name: str, value, where: str):
    annotation = {f.name: f.type for f in dataclasses.fields(cls)}[name]
    annotation = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    if annotation == "tuple[str, ...]" and isinstance(value, str):
        value = (value,)  # one file may be given without a list
    check, described = _TYPES.get(annotation, (lambda v: True, ""))
    if not check(value):
        hint = "; YAML reads 1e-3 as text: write 1.0e-3" if annotation.startswith("float") and isinstance(value, str) else ""
        raise InputError(
            f"expected '{where}.{name}' to be {described}, found {type(value).__name__} {value!r}; fix the config{hint}"
        )
    return float(value) if annotation == "float" else value


def _build(cls, raw, where: str):
    if not isinstance(raw, dict):
        raise InputError(f"expected a mapping for '{where}', found {type(raw).__name__}: {raw!r}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise InputError(f"unknown key(s) {unknown} in '{where}'; valid keys: {sorted(names)}")
    missing = [n for n, f in names.items() if n not in raw and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise InputError(f"missing key(s) {missing} in '{where}'")
    values = {}
    for key, value in raw.items():
        values[key] = _check_type(cls, key, tuple(value) if isinstance(value, list) else value, where)
    try:
        return cls(**values)
    except TypeError as exc:
        raise InputError(f"bad '{where}' section: {exc}") from None


def load_config(path) -> TrainConfig:
    """Read and validate a training YAML file.

    Raises:
        InputError: unreadable file, malformed YAML, unknown/missing keys, bad values.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read config {str(path)!r}: {exc.strerror}; pass an existing YAML file") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.constructor.ConstructorError) and "tag" in problem:
            problem += " (configs are plain YAML: tags such as !!python/... are refused, nothing is constructed or run)"
        raise InputError(f"config {str(path)!r} is not valid YAML{where}: {problem}") from None
    return parse_config(raw, base=path.parent)


def parse_config(raw, *, base: Path | None = None) -> TrainConfig:
    """Validate an already-parsed config mapping; relative data and output paths are resolved against ``base``."""
    if not isinstance(raw, dict):
        raise InputError(f"expected a YAML mapping at the top of the config, found {type(raw).__name__}")
    sections = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise InputError(f"unknown top-level key(s) {unknown}; valid keys: {sorted(sections)}")
    for key in ("model", "task", "data"):
        if key not in raw:
            raise InputError(f"missing top-level key '{key}' in the config")
    model = _build(ModelSpec, raw["model"], "model")
    if model.name not in REGISTRY:
        raise InputError(f"unknown network {model.name!r} in 'model.name'; expected one of {sorted(REGISTRY)}")
    make_config(model.name, model.options)  # validates the options
    tasks.get(raw["task"])  # an unknown task is an InputError naming the known ones
    data = _build(DataSpec, raw["data"], "data")
    check_track_impact(data.track_impact)
    for key in ("max_events", "train_events"):
        if getattr(data, key) is not None and getattr(data, key) < 1:
            raise InputError(f"expected 'data.{key}' to be a positive number of events; found {getattr(data, key)}; fix the config")
    if data.format is not None:
        from e2ejax.io import FRAME_FORMATS

        if data.format not in FRAME_FORMATS:
            raise InputError(f"expected 'data.format' among {sorted(FRAME_FORMATS)} (ML4SCI frame files); found {data.format!r}; "
                             "fix the config or drop the key to detect the format of each file")
    if base is not None:
        resolve = lambda files: tuple(str(base / f) if not Path(f).is_absolute() else f for f in files)  # noqa: E731
        data = dataclasses.replace(data, train=resolve(data.train), validation=resolve(data.validation), test=resolve(data.test))
    optimizer = _build(OptimizerSpec, raw.get("optimizer", {}), "optimizer")
    if optimizer.name not in ("adam", "adamw", "sgd"):
        raise InputError(f"unknown optimizer {optimizer.name!r}; expected 'adam', 'adamw' or 'sgd'")
    if optimizer.schedule not in ("constant", "cosine"):
        raise InputError(f"unknown schedule {optimizer.schedule!r}; expected 'constant' or 'cosine'")
    training = _build(TrainingSpec, raw.get("training", {}), "training")
    if training.epochs < 1 or training.batch_size < 1:
        raise InputError(f"expected training.epochs >= 1 and training.batch_size >= 1, got {training.epochs} and {training.batch_size}")
    output = raw.get("output", "runs/e2ejax")
    if not isinstance(output, str) or not output:
        raise InputError(f"expected 'output' to be a directory path (a string), found {output!r}; fix the config")
    if base is not None and not Path(output).is_absolute():
        output = str(base / output)
    return TrainConfig(model=model, task=raw["task"], data=data, optimizer=optimizer, training=training, output=output)


def missing_data(cfg: TrainConfig) -> list[str]:
    """The data files of a config (train, validation, test, in order) that do not exist."""
    files = cfg.data.train + cfg.data.validation + cfg.data.test
    return [f for f in dict.fromkeys(files) if not Path(_file_of(f)).exists()]


def _file_of(spec: str) -> str:
    """The file of a data entry: ``path`` or, for a frame file, ``path:START:STOP``."""
    from e2ejax.io import frame_rows

    return frame_rows(spec)[0]


def display_path(path) -> str:
    """``path`` relative to the working directory when it lies below it, else absolute (normalised)."""
    here = os.path.relpath(os.path.abspath(path))
    return here if not here.startswith("..") else os.path.abspath(path)


def _output_of(argv: list[str]) -> int | None:
    """Index of the value of ``-o`` / ``--output`` in a command's words."""
    for i, word in enumerate(argv[:-1]):
        if word in ("-o", "--output"):
            return i + 1
    return None


def simulate_commands(path, missing=()) -> list[str]:
    """The ``e2ejax simulate`` commands in the comment lines at the top of a config.

    Args:
        path: the config file.
        missing: data files (as :func:`missing_data` gives them); when given, only the
            commands writing one of them are returned, their ``-o`` rewritten as that file's
            path relative to the working directory, so that they run from here.

    Returns:
        The commands, in the order written; empty when the header has none (or, with
        ``missing``, none writes a missing file).

    Examples:
        >>> import tempfile, os
        >>> d = tempfile.mkdtemp(); os.mkdir(os.path.join(d, "configs"))
        >>> cfg = os.path.join(d, "configs", "qg.yaml")
        >>> _ = open(cfg, "w").write("# Data:\\n#   e2ejax simulate qg --events 10 --seed 1 -o data/a.root\\nmodel: {}\\n")
        >>> simulate_commands(cfg)
        ['e2ejax simulate qg --events 10 --seed 1 -o data/a.root']
        >>> simulate_commands(cfg, [os.path.join(d, "configs", "..", "data", "a.root")])[0].endswith("/data/a.root")
        True
    """
    commands = []
    for line in Path(path).read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("# ").strip()
        if text.startswith("e2ejax simulate"):
            commands.append(text)
    if not missing:
        return commands
    wanted = {Path(os.path.abspath(f)): f for f in missing}
    out = []
    for command in commands:
        argv = shlex.split(command)
        at = _output_of(argv)
        if at is None:
            continue
        tail = Path(argv[at]).parts
        target = next((f for f in wanted if f.parts[-len(tail):] == tail), None)
        if target is not None:
            argv[at] = display_path(target)
            out.append(shlex.join(argv))
    return out


def make_optimizer(spec: OptimizerSpec, *, total_steps: int) -> optax.GradientTransformation:
    """The optax optimiser of a config (schedule over ``total_steps``)."""
    if spec.schedule == "cosine":
        warmup = max(spec.warmup_steps, 1)
        lr = optax.warmup_cosine_decay_schedule(0.0, spec.learning_rate, warmup, max(total_steps, warmup + 1))
    else:
        lr = spec.learning_rate
    base = {
        "adam": lambda: optax.adam(lr),
        "adamw": lambda: optax.adamw(lr, weight_decay=spec.weight_decay),
        "sgd": lambda: optax.sgd(lr, momentum=0.9),
    }[spec.name]()
    return optax.chain(optax.clip_by_global_norm(spec.clip_norm), base) if spec.clip_norm else base
