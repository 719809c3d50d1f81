"""The task registry: what each physics task reads, builds, predicts and is compared with.

One frozen :class:`Task` per task. Every layer asks the registry instead of keeping its
own table: the readers take ``hit_groups``, the input builders ``channels`` and
``frame_size``, training ``objective`` and ``label_field``, evaluation ``baselines``,
the CLI ``shipped_sample`` and ``shipped_model``. Adding a task is one entry here plus
its input builder in :mod:`e2ejax.inputs`.

Examples:
    >>> get("qg").seed_group, get("qg").frame_size, get("egamma").seed_group
    ('jet', 125, 'eg')
    >>> [t.name for t in TASKS.values() if t.objective == "regression"]
    ['jetcalib']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from e2ejax.errors import InputError

__all__ = ["Task", "TASKS", "get", "taggers", "names", "sample_task", "hit_groups", "shipped_models"]


@dataclass(frozen=True)
class Task:
    """One physics task.

    Attributes:
        name: registry key (``qg``, ``top``, ``tau``, ``egamma``, ``jetcalib``).
        title: what the task does, in words (for messages, summaries and plots).
        objective: ``"classification"`` (sigmoid scores, BCE) or ``"regression"`` (raw output, MSE).
        seed_group: the per-candidate group scored (``"jet"`` or ``"eg"``): the friend
            tree's branch prefix, the ``<group>_mask`` of the seeds and ``<group>_label``.
        hit_groups: sparse groups the inputs are built from (every file must hold them).
        channels: image channels of the frames, in order (empty for non-image tasks).
        frame_size: frame height = width in crystals (0 for non-image tasks).
        label_field: the truth branch (``jet_label``, ``eg_label``; ``jet_pt_true`` for
            the calibration).
        baselines: one-variable baselines, ``name -> (observable, sign)``
            (:mod:`e2ejax.inputs.baselines`); larger ``sign * observable`` = more signal-like.
        classes: ``(label 0, label 1)`` names, for plots and summaries.
        shipped_sample: file name of the shipped held-out sample in ``e2ejax/data``.
        shipped_model: name of the shipped model in ``checkpoints/``.
        inputs: what the networks take: ``"frames"`` (seed frames, or their hottest
            pixels as points for the GNN; the particle networks of a jet task take the
            jets' candidates instead) or ``"constituents"`` (jet particle-flow candidates).
        networks: the registry networks (:data:`e2ejax.nets.REGISTRY`) that fit these inputs.
        n_particles: particle-flow candidates per jet kept for the particle networks
            (:func:`e2ejax.inputs.jet_particles`, highest pT first); 0 where they do not apply.
        particle_model: name of the shipped particle tagger in ``checkpoints/`` ("" for none).
    """

    name: str
    title: str
    objective: str
    seed_group: str
    hit_groups: tuple[str, ...]
    channels: tuple[str, ...]
    frame_size: int
    label_field: str
    baselines: MappingProxyType
    classes: tuple[str, str]
    shipped_sample: str
    shipped_model: str
    inputs: str
    networks: tuple[str, ...]
    n_particles: int = 0
    particle_model: str = ""

    @property
    def is_tagger(self) -> bool:
        """True for classification tasks scored per seed by :class:`e2ejax.inference.Tagger`."""
        return self.objective == "classification"

    @property
    def sample_path(self) -> Path:
        """The shipped held-out sample, installed with the package (``e2ejax/data``)."""
        return Path(__file__).resolve().parent / "data" / self.shipped_sample

    @property
    def mask_field(self) -> str:
        """``<seed_group>_mask``: which seed slots hold real candidates."""
        return f"{self.seed_group}_mask"


def _baselines(**entries) -> MappingProxyType:
    return MappingProxyType(dict(entries))


_JET = "jet"
_IMAGE_NETS = ("vgg", "resnet15", "gnn")
_JET_NETS = _IMAGE_NETS + ("particlenet", "particlenet_lite", "part", "pcnn", "pfn")
TASKS = MappingProxyType({
    t.name: t for t in (
        Task("qg", "quark/gluon tagging", "classification", _JET, ("trk", "eb", "hbhe", "jet"), ("track_pt", "ecal", "hcal"), 125, "jet_label",
             _baselines(girth=("girth", 1.0), multiplicity=("multiplicity", 1.0)),
             ("quark", "gluon"), "sim_qg.root", "qg", "frames", _JET_NETS, 64, "qg_particlenet_lite"),
        Task("top", "top tagging", "classification", _JET, ("trk", "eb", "hbhe", "bpix", "jet"),
             ("track_pt", "track_d0", "track_dz", "ecal", "hcal", "bpix1", "bpix2", "bpix3"), 125, "jet_label",
             _baselines(**{"mass": ("mass", 1.0), "-|mass - 172.5|": ("top_window", -1.0)}),
             ("QCD", "top"), "sim_top.root", "top", "frames", _JET_NETS, 128, "top_particlenet_lite"),
        Task("tau", "tau tagging", "classification", _JET, ("trk", "eb", "hbhe", "jet"),
             ("track_pt", "track_d0", "track_dz", "ecal", "hcal"), 125, "jet_label",
             _baselines(**{"-girth": ("girth", -1.0), "-n_charged": ("n_charged", -1.0), "-mass": ("mass", -1.0)}),
             ("QCD jet", "tau"), "sim_tau.root", "tau", "frames", _JET_NETS, 64),
        Task("egamma", "electron/photon identification", "classification", "eg", ("eb", "eg"), ("ecal",), 32, "eg_label",
             _baselines(phi_width=("phi_width", 1.0)),
             ("photon", "electron"), "sim_egamma.root", "egamma", "frames", _IMAGE_NETS),
        Task("jetcalib", "jet calibration", "regression", _JET, ("jet", "pf"), (), 0, "jet_pt_true",
             _baselines(), ("", ""), "sim_qg.root", "jetcalib", "constituents", ("deepsets",)),
    )
})


def names() -> list[str]:
    """Every task name, in registry order."""
    return list(TASKS)


def taggers() -> list[str]:
    """The classification tasks (scored per seed by the tagger)."""
    return [t.name for t in TASKS.values() if t.is_tagger]


def shipped_models() -> dict[str, str]:
    """Every shipped model name -> its task: each task's model and, for jet tasks, its particle tagger.

    Examples:
        >>> shipped_models()["egamma"]
        'egamma'
    """
    return {name: t.name for t in TASKS.values() for name in (t.shipped_model, t.particle_model) if name}


def hit_groups(task_names) -> list[str]:
    """The hit groups the tasks ``task_names`` read together, sorted (what a file must hold to be tagged by them).

    Examples:
        >>> hit_groups(["egamma", "egamma"])
        ['eb', 'eg']
    """
    return sorted({g for name in task_names for g in get(name).hit_groups})


def sample_task(provenance: dict) -> str | None:
    """The tagger task of a file from its provenance record (the ``sample`` that ``e2ejax simulate``
    stores, :func:`e2ejax.io.file_provenance`), or None when it names none.

    Examples:
        >>> sample_task({"sample": "qg"}), sample_task({"sample": "minbias"}), sample_task({"path": "x.root"})
        ('qg', None, None)
    """
    sample = provenance.get("sample")
    return sample if sample in taggers() else None


def get(name: str) -> Task:
    """The :class:`Task` called ``name``.

    Raises:
        InputError: an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str) or name not in TASKS:
        raise InputError(f"unknown task {name!r}; expected one of {names()}")
    return TASKS[name]
