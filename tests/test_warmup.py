"""A second run pays little before steady state: the batches of a file share few compiled input builders."""

import functools

import jax
import numpy as np
from flax import nnx

from e2ejax import nets, tasks
from e2ejax.inference import Tagger, pad_rows
from e2ejax.inference import seed_rows
from e2ejax.inputs import seed_frames, trim_seed_slots
from e2ejax.io import iterate_events
from tests.test_features import toy_events

SMALL_RESNET = {"channels": 3, "features": [4, 8], "blocks": 1}


def _shipped_batches(task, stop, size=64):
    t = tasks.get(task)
    chunks = iterate_events(str(t.sample_path), step_size=256, entry_stop=stop, groups=sorted(t.hit_groups), optional=("ee",))
    return [dict(b.arrays) for chunk in chunks for b in chunk.split(size)]


def _old_signature(tagger, events):
    """The builder shapes of one batch when every batch went as trimmed (the seed slots cut, ``B`` as it is)."""
    trimmed = trim_seed_slots(events, tagger.group)
    rows = np.flatnonzero(trimmed[f"{tagger.group}_mask"])
    shapes = tuple(sorted((k, np.shape(v)) for k, v in trimmed.items()))
    return {(shapes, len(pad_rows(part))) for part in tagger.row_parts(rows)}


def test_batches_of_a_file_share_builder_programs():
    # the shipped qg sample: 16 batches of 64 events with 2 or 3 jets at most per event, a last batch of
    # 40, reads of 256 events padded to 256 or 512 EE hits
    batches = _shipped_batches("qg", stop=None)
    tagger = Tagger(nets.build("resnet15", SMALL_RESNET, rngs=nnx.Rngs(0)), task="qg", backend="xla")
    assert len(batches) == 16 and len(batches[-1]["jet_mask"]) == 40
    programs = set()
    for events in batches:
        parts, *_ = tagger.seed_inputs(events)
        hits = tuple(np.shape(events[f"{g}_mask"])[1] for g in ("eb", "ee", "hbhe", "trk"))
        programs |= {(hits, len(pad_rows(np.arange(n)))) for _, n in parts}
    # one program per hit padding and padded row count: the seed slot counts and the short last batch add none
    assert tagger._seed_frames._cache_size() == len(programs) == 3
    assert len(set().union(*(_old_signature(tagger, b) for b in batches))) == 7


def test_builder_events_fixed_shapes(rng):
    a, b = toy_events(rng, B=5), toy_events(rng, B=8)
    for ev in (a, b):
        ev.update(jet_eta=np.pad(ev["jet_eta"], ((0, 0), (0, 13))), jet_phi=np.pad(ev["jet_phi"], ((0, 0), (0, 13))),
                  jet_mask=np.pad(ev["jet_mask"], ((0, 0), (0, 13))), njet=ev["jet_mask"].sum(1), pf_pt=np.zeros((len(ev["jet_mask"]), 7)))
    b["jet_mask"][0, 2] = True  # three jets in one event: 4 trimmed slots here, 2 in ``a``
    shapes = []
    for ev in (a, b):
        built, slots = seed_rows.builder_events(ev, trim_seed_slots(ev, "jet"), "qg")
        assert not {"njet", "pf_pt", "eg_eta"} & set(built)  # fields no builder of the task reads
        np.testing.assert_array_equal(slots, np.flatnonzero(built["jet_mask"]))
        assert not built["jet_mask"][len(ev["jet_mask"]):].any()
        shapes.append({k: np.shape(v) for k, v in built.items()})
    assert shapes[0] == shapes[1] and shapes[0]["jet_mask"] == (8, 16) and shapes[0]["eb_energy"] == (8, 40)
    # e/gamma builders cut a frame for every slot: their events go trimmed
    built, slots = seed_rows.builder_events(a, trim_seed_slots(a, "eg"), "egamma")
    assert built["eb_energy"].shape == (5, 40) and slots.tolist() == np.flatnonzero(a["eg_mask"]).tolist()


def test_fixed_shapes_build_the_same_frames_bit_for_bit(rng):
    ev = toy_events(rng, B=5)
    ev.update(jet_eta=np.pad(ev["jet_eta"], ((0, 0), (0, 13))), jet_phi=np.pad(ev["jet_phi"], ((0, 0), (0, 13))),
              jet_mask=np.pad(ev["jet_mask"], ((0, 0), (0, 13))))
    tagger = Tagger(nets.build("resnet15", SMALL_RESNET, rngs=nnx.Rngs(1)), task="qg", backend="xla", max_rows=8)
    parts, rows, seeds, mask, in_acceptance = tagger.seed_inputs(ev)
    trimmed = trim_seed_slots(ev, "jet")  # the builder's input before: seed slots cut, B as it is
    old = jax.jit(functools.partial(seed_frames, task="qg"))
    assert rows.tolist() == np.flatnonzero(trimmed["jet_mask"]).tolist() and len(parts) == 2
    for (inputs, n), part in zip(parts, tagger.row_parts(rows)):
        frames, old_seeds, old_mask, old_acceptance = old(trimmed, rows=pad_rows(part))
        np.testing.assert_array_equal(np.asarray(inputs[0]), np.asarray(frames))
    np.testing.assert_array_equal(seeds, old_seeds)
    np.testing.assert_array_equal(mask, old_mask)
    np.testing.assert_array_equal(in_acceptance, old_acceptance)
    assert seeds.shape == (5, 2, 2) and mask.shape == in_acceptance.shape == (5, 2)
