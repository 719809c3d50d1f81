"""e2ejax plot event / frame: event displays with seeds and frames, frame displays with the score's saliency."""

import re

import jax
import numpy as np
import pytest

from e2ejax import plotting, tasks
from e2ejax.cli import main
from e2ejax.inference import Tagger
from e2ejax.inputs import event_images, seed_frames
from e2ejax.io import iterate_events
from e2ejax.nets import make_predict
from e2ejax.ops import frame_offset
from e2ejax.store import load_model

QG = str(tasks.get("qg").sample_path)
EGAMMA = str(tasks.get("egamma").sample_path)


def _entry_by_loop(path, entry, groups):
    """Entry ``entry`` read in one batch of the whole head of the file (the reference for read_entry)."""
    batch = next(iter(iterate_events(path, groups=groups, require=groups, optional=("ee",), step_size=entry + 1)))
    return {k: np.asarray(v)[entry] for k, v in batch.items()}


def test_read_entry_is_that_entry_of_the_file():
    groups = tasks.get("qg").hit_groups
    event = plotting.read_entry(QG, 70, groups=groups)
    reference = _entry_by_loop(QG, 70, groups)
    assert int(event["event"][0]) == int(reference["event"])
    for key in ("jet_pt", "jet_mask", "eb_energy", "trk_pt"):
        n = reference[key].shape[0]
        np.testing.assert_array_equal(event[key][0, :n], reference[key][: event[key].shape[1]])
    with pytest.raises(Exception, match="expected an entry below the 1000 entries"):
        plotting.read_entry(QG, 1000, groups=groups)


@pytest.mark.parametrize("path,task", [(QG, "qg"), (EGAMMA, "egamma")])
def test_event_figure_draws_images_seeds_and_frames(path, task):
    t = tasks.get(task)
    event = plotting.read_entry(path, 3, groups=tuple(dict.fromkeys(t.hit_groups + ("trk", "hbhe"))))
    fig = plotting.event_figure(event, task=task)
    images = np.asarray(event_images(event, channels=plotting.EVENT_CHANNELS))[0]
    _, seeds, mask, inside = seed_frames(event, task=task)
    real = np.flatnonzero(np.asarray(mask)[0])
    seeds, inside = np.asarray(seeds)[0, real], np.asarray(inside)[0, real]
    assert real.size > 0
    panels = [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]
    assert len(panels) == 3
    for i, ax in enumerate(panels):
        drawn = np.ma.filled(ax.images[0].get_array(), np.nan)
        np.testing.assert_array_equal(np.nan_to_num(drawn), np.where(images[..., i] > 0, images[..., i], 0))
        np.testing.assert_array_equal(ax.collections[0].get_offsets(), seeds[:, ::-1])
        boxes = [(p.get_xy(), p.get_edgecolor()) for p in ax.patches]
        for (row, col), ok in zip(seeds, inside):  # every frame has a box with its top-left corner and colour
            top = row - frame_offset(t.frame_size) - 0.5
            assert any(xy[1] == top and (xy[0] + 0.5 - (col - frame_offset(t.frame_size))) % 360 == 0 for xy, _ in boxes)
    texts = [t.get_text() for t in fig.texts] + [fig._suptitle.get_text()]
    assert any("Simulation" in x and "Private" in x for x in texts) and not any("CMS" in x for x in texts)


def test_frame_saliency_is_the_gradient_of_the_tagger_score():
    model, card, _ = load_model("egamma")
    event = plotting.read_entry(EGAMMA, 5, groups=tasks.get("egamma").hit_groups)
    sal = plotting.frame_saliency(model, "egamma", event, 0)
    # the score is the one the tagger writes for that candidate
    tagged = Tagger(model, task="egamma", backend="xla")(event)
    assert sal.score == pytest.approx(float(np.asarray(tagged.scores)[0, 0]), abs=1e-5)
    frames, *_ = seed_frames(event, task="egamma")
    np.testing.assert_array_equal(sal.frame, np.asarray(frames[0]))
    # central finite differences at the three most salient pixels
    predict, params = make_predict(model)
    f = jax.jit(lambda x: predict(params, x[None])[0])
    for flat in np.argsort(-np.abs(sal.saliency).ravel())[:3]:
        idx = np.unravel_index(flat, sal.saliency.shape)
        step = np.zeros_like(sal.frame)
        step[idx] = 1e-2
        numeric = (float(f(sal.frame + step)) - float(f(sal.frame - step))) / 2e-2
        assert numeric == pytest.approx(float(sal.saliency[idx]), rel=0.05)
    fig = plotting.frame_figure(sal)
    overlay = np.ma.filled(fig.axes[0].images[1].get_array(), np.nan)[..., None]
    magnitude = np.abs(sal.saliency)
    shown = magnitude >= plotting.display.SALIENCY_FLOOR * magnitude.max()
    np.testing.assert_array_equal(np.isfinite(overlay), shown)
    np.testing.assert_array_equal(overlay[shown], magnitude[shown])


def test_cli_event_and_frame_write_pngs(tmp_path, capsys):
    assert main(["plot", "event", QG, "--entry", "3", "-o", str(tmp_path / "event.png"), "--dpi", "20"]) == 0
    out = capsys.readouterr().out
    assert "entry 3: 2 jet seeds of task qg (frames 125x125)" in out and (tmp_path / "event.png").stat().st_size > 0
    assert main(["plot", "frame", EGAMMA, "--entry", "5", "--model", "egamma", "-o", str(tmp_path / "frame.png"), "--dpi", "20"]) == 0
    out = capsys.readouterr().out
    model, _, _ = load_model("egamma")
    sal = plotting.frame_saliency(model, "egamma", plotting.read_entry(EGAMMA, 5, groups=("eb", "eg")), 0)
    assert re.search(rf"candidate 0: egamma score {sal.score:.4f}; largest \|d score / d pixel\| "
                     rf"{float(np.abs(sal.saliency).max()):.3g} /GeV", out)


@pytest.mark.parametrize("argv,message", [
    (["event", QG, "--entry", "5000"], "expected an entry below the 1000 entries"),
    (["event", QG, "--entry", "-1"], "expected an entry number >= 0"),
    (["frame", EGAMMA, "--model", "egamma", "--candidate", "7"], "expected a seed slot of this event, one of [0]"),
    (["frame", QG, "--model", "jetcalib"], "expected a tagger"),
])
def test_display_errors_are_one_line_and_write_nothing(tmp_path, capsys, argv, message):
    out = tmp_path / "x.png"
    assert main(["plot", *argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []
