"""How stored images were made and what a model was trained on: the input conventions.

Two choices change the numbers in an image without changing its name, so a model must
see the choice it was trained with:

* ``track_impact``: the track d0 / dz of a cell, ``"pt_weighted"`` (``sum(pT d0) / sum(pT)``,
  what e2ejax builds by default) or ``"mean"`` (the plain average over the cell's tracks,
  what the MLAnalyzer producers store);
* ``image_units``: the unit of the image values, ``"GeV"`` (energy or pT per cell, e2ejax
  and MLAnalyzer) or the name of a dataset that stores them otherwise (ML4SCI's pre-cut
  frames: ``"ml4sci"``).

A model card's ``input_conventions`` holds the model's; a source declares the conventions
of the images it stores (:attr:`e2ejax.io.EventBatch.conventions`; a sparse-hit file stores
no images, so the input builder makes them in the model's convention). :func:`check` refuses
a source whose conventions differ from the model's for the channels the model reads.

Examples:
    >>> of_card({})["track_impact"], of_card({"input_conventions": {"track_impact": "mean"}})["track_impact"]
    ('pt_weighted', 'mean')
    >>> mismatches({"track_impact": "pt_weighted", "image_units": "GeV"}, {"track_impact": "mean"},
    ...            channels=("track_pt", "ecal"))
    []
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from e2ejax.errors import InputError

__all__ = ["TRACK_IMPACT", "DEFAULTS", "KEYS", "check_track_impact", "of_card", "mismatches", "check"]

#: the two d0 / dz per-cell conventions
TRACK_IMPACT = ("pt_weighted", "mean")

#: conventions of a model card without ``input_conventions`` (every model e2ejax trained on its own files)
DEFAULTS = MappingProxyType({"track_impact": "pt_weighted", "image_units": "GeV"})

#: every convention key
KEYS = tuple(DEFAULTS)

#: image channels whose values depend on ``track_impact``
_IMPACT_CHANNELS = frozenset({"track_d0", "track_dz"})


def check_track_impact(value) -> str:
    """``value`` if it is one of :data:`TRACK_IMPACT`, else InputError."""
    if value not in TRACK_IMPACT:
        raise InputError(f"expected track_impact {' or '.join(map(repr, TRACK_IMPACT))}; found {value!r}; "
                         "pt_weighted: sum(pT d0)/sum(pT) per cell (e2ejax), mean: the plain average (MLAnalyzer)")
    return value


def of_card(card: Mapping) -> dict:
    """A model's conventions: the card's ``input_conventions`` over :data:`DEFAULTS`."""
    return {**DEFAULTS, **dict(card.get("input_conventions") or {})}


def mismatches(model: Mapping, source: Mapping, *, channels) -> list[tuple[str, str, str]]:
    """``(key, model's, source's)`` for each convention that differs and matters for ``channels``.

    A key the source does not declare does not differ (the images are built to order);
    ``track_impact`` matters only when ``channels`` hold ``track_d0`` or ``track_dz``.
    """
    out = []
    for key in KEYS:
        if key not in source or source[key] == model.get(key, DEFAULTS[key]):
            continue
        if key == "track_impact" and not _IMPACT_CHANNELS & set(channels):
            continue
        out.append((key, model.get(key, DEFAULTS[key]), source[key]))
    return out


def check(model: Mapping, source: Mapping, *, channels, where: str, accept_units: bool = False) -> None:
    """InputError (one line) when ``source``'s conventions differ from ``model``'s for ``channels``.

    Args:
        model: the model's conventions (:func:`of_card`).
        source: the conventions a file declares for its stored images.
        channels: the image channels the model reads.
        where: the file, for the message.
        accept_units: let ``image_units`` differ (the user says the units fit).
    """
    bad = [m for m in mismatches(model, source, channels=channels) if not (accept_units and m[0] == "image_units")]
    if not bad:
        return
    found = ", ".join(f"{k} {s!r} (model: {m!r})" for k, m, s in bad)
    fixes = []
    if any(k == "track_impact" for k, _, _ in bad):
        fixes.append("use a model trained with the file's track_impact (training config: data.track_impact)")
    if any(k == "image_units" for k, _, _ in bad):
        fixes.append("use a model trained on files of these units, or pass --accept-units if you know they agree")
    raise InputError(f"expected images in the model's conventions in {where!r}; found {found}; fix: {'; '.join(fixes)}")
