"""ML4SCI pre-cut frame files: small files written as the public datasets store them, read back
against NumPy references (channel reorder, layout, labels, streaming, refusals)."""

from __future__ import annotations

import sys

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from e2ejax import tasks
from e2ejax.errors import InputError, MissingDependencyError
from e2ejax.io import (
    FRAME_FORMATS,
    count_frame_rows,
    count_frames,
    frame_format,
    frame_rows,
    iterate_frame_files,
    iterate_frames,
)

#: the stored channel order of each dataset, in its producer's words, and the e2ejax channel each is
STORED = {
    "qg": ["track_pt", "ecal", "hcal"],
    "top": ["track_pt", "track_dz", "track_d0", "ecal", "hcal", "bpix1", "bpix2", "bpix3"],
    "egamma": ["ecal", None],
}


def write_qg_hdf5(path, rng, n):
    """quark-gluon_data-set_n139306.hdf5: X_jets float32 [N, 125, 125, 3] channels last; y (1 = quark), m0, pt."""
    x = rng.exponential(0.1, (n, 125, 125, 3)).astype(np.float32)
    y = np.arange(n) % 2  # alternating, so every batch holds both
    with h5py.File(path, "w") as f:
        f.create_dataset("X_jets", data=x)
        f.create_dataset("y", data=y.astype(np.float32))
        f.create_dataset("m0", data=rng.uniform(5, 40, n).astype(np.float32))
        f.create_dataset("pt", data=rng.uniform(70, 340, n).astype(np.float32))
    return x, y


def write_parquet(path, column, images, scalars, row_group_size=1):
    """A parquet file as the MLAnalyzer converters write it: nested lists of doubles, one row group per row."""
    table = pa.table({column: pa.array(images.astype(np.float64).tolist()),
                      **{k: pa.array(np.asarray(v, np.float64)) for k, v in scalars.items()}})
    pq.write_table(table, path, row_group_size=row_group_size)


def write_qg_parquet(path, rng, n, row_group_size=1):
    """QCDToGGQQ_IMGjet_RH1all_jet0_run*.parquet: X_jets [3, 125, 125] channels first; pt, m0, y."""
    x = rng.exponential(0.1, (n, 3, 125, 125))
    y = np.arange(n) % 2
    write_parquet(path, "X_jets", x, {"pt": rng.uniform(70, 340, n), "m0": rng.uniform(5, 40, n), "y": y},
                  row_group_size=row_group_size)
    return x, y


def write_top_parquet(path, rng, n):
    """The boosted top parquet: X_jet [8, 125, 125] channels first; y (1 = top), m, pt, ieta, iphi."""
    x = rng.normal(0, 0.1, (n, 8, 125, 125))
    y = (np.arange(n) + 1) % 2
    write_parquet(path, "X_jet", x, {"y": y, "m": rng.uniform(20, 300, n), "pt": rng.uniform(400, 600, n),
                                     "ieta": rng.uniform(0, 100, n), "iphi": rng.uniform(0, 360, n)})
    return x, y


def write_egamma_hdf5(path, rng, n, label):
    """Single{Photon,Electron}Pt50_IMGCROPS_n249k_RHv1.hdf5: X float32 [N, 32, 32, 2] (energy, time); y (1 = electron)."""
    x = rng.exponential(0.2, (n, 32, 32, 2)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=x)
        f.create_dataset("y", data=np.full(n, label, np.float32))
    return x, np.full(n, label)


def reference_frames(x, task, channels_last):
    """The task's frames [N, H, W, C] from stored frames, pixel by pixel (an independent loop)."""
    stored, wanted = STORED[task], tasks.get(task).channels
    n, size = len(x), tasks.get(task).frame_size
    out = np.zeros((n, size, size, len(wanted)), np.float32)
    for i in range(n):
        for k, name in enumerate(wanted):
            j = stored.index(name)
            out[i, :, :, k] = x[i, :, :, j] if channels_last else x[i, j, :, :]
    return out


def collect(batches):
    batches = list(batches)
    return (np.concatenate([b.frames for b in batches]), np.concatenate([b.labels for b in batches]),
            [(b.row_start, b.row_stop) for b in batches], batches)


def test_qg_hdf5_frames_labels_and_streaming(tmp_path, rng):
    path = tmp_path / "quark-gluon_data-set_n10.hdf5"
    x, y = write_qg_hdf5(path, rng, 10)
    assert frame_format(path).name == "qg_hdf5" and count_frames(path) == 10
    frames, labels, spans, batches = collect(iterate_frames(path, batch_size=4, read_rows=3))
    assert spans == [(0, 4), (4, 8), (8, 10)]  # batches cut across reads of 3 rows, in row order
    np.testing.assert_array_equal(frames, reference_frames(x, "qg", True))
    # stored y = 1 is a quark; e2ejax's qg label 1 is a gluon (tasks: classes ("quark", "gluon"))
    assert [tasks.get("qg").classes[v] for v in labels] == [("gluon", "quark")[v] for v in y]
    assert frames.dtype == np.float32 and labels.dtype == np.int32
    assert batches[0].conventions == {"image_units": "ml4sci"} and sorted(batches[0].extras) == ["m0", "pt"]
    with h5py.File(path) as f:
        np.testing.assert_array_equal(np.concatenate([b.extras["m0"] for b in batches]), f["m0"][:].astype(np.float64))


def test_hdf5_reads_slices_of_at_most_read_rows(tmp_path, rng, monkeypatch):
    path = tmp_path / "qg.h5"
    write_qg_hdf5(path, rng, 7)
    sizes = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        out = original(self, key)
        if self.name == "/X_jets":
            sizes.append(len(out))
        return out

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    spans = [(b.row_start, b.row_stop) for b in iterate_frames(path, batch_size=5, read_rows=2, row_start=1)]
    assert spans == [(1, 6), (6, 7)] and sizes == [2, 2, 2]


@pytest.mark.parametrize("row_group_size", [1, 4])
def test_qg_parquet_rows_from_the_middle(tmp_path, rng, row_group_size):
    path = tmp_path / "QCDToGGQQ_IMGjet_RH1all_jet0_run0_n9.test.snappy.parquet"
    x, y = write_qg_parquet(path, rng, 9, row_group_size=row_group_size)
    frames, labels, spans, _ = collect(iterate_frames(path, batch_size=3, read_rows=2, row_start=2, row_stop=8))
    assert spans == [(2, 5), (5, 8)]
    np.testing.assert_allclose(frames, reference_frames(x[2:8], "qg", False), rtol=1e-7)  # float64 stored -> float32
    np.testing.assert_array_equal(labels, 1 - y[2:8])


def test_top_parquet_channel_order_and_conventions(tmp_path, rng):
    path = tmp_path / "top.parquet"
    x, y = write_top_parquet(path, rng, 5)
    frames, labels, _, batches = collect(iterate_frames(path, batch_size=2))
    # stored pT, dz, d0, ...; e2ejax's top frames are track_pt, track_d0, track_dz, ...
    np.testing.assert_array_equal(frames[..., 1], x[:, 2].astype(np.float32))
    np.testing.assert_array_equal(frames[..., 2], x[:, 1].astype(np.float32))
    np.testing.assert_array_equal(frames, reference_frames(x, "top", False))
    np.testing.assert_array_equal(labels, y)
    assert batches[0].conventions == {"image_units": "ml4sci", "track_impact": "mean"}
    assert sorted(batches[0].extras) == ["ieta", "iphi", "m", "pt"]


def test_egamma_reads_energy_only_and_says_so(tmp_path, rng):
    path = tmp_path / "SingleElectronPt50_IMGCROPS_n6_RHv1.hdf5"
    x, _ = write_egamma_hdf5(path, rng, 6, 1)
    frames, labels, _, _ = collect(iterate_frames(path, batch_size=4))
    np.testing.assert_array_equal(frames, x[..., :1])
    assert labels.tolist() == [1] * 6  # electron: e2ejax's egamma label 1
    note = FRAME_FORMATS["egamma_hdf5"].unread_note(path)
    assert "channel 1 (time)" in note and "does not read it" in note


def test_several_files_mix_batch_by_batch(tmp_path, rng):
    photons, electrons = tmp_path / "photons.hdf5", tmp_path / "electrons.hdf5"
    write_egamma_hdf5(photons, rng, 5, 0)
    write_egamma_hdf5(electrons, rng, 5, 1)
    specs = [f"{photons}:1:5", f"{electrons}:0:3"]
    batches = list(iterate_frame_files(specs, task="egamma", batch_size=2))
    assert [(b.file.endswith("photons.hdf5"), b.row_start, b.row_stop) for b in batches] == [
        (True, 1, 3), (False, 0, 2), (True, 3, 5), (False, 2, 3)]
    assert count_frame_rows(specs) == 7 and count_frame_rows(specs, max_rows=4) == 4
    capped = list(iterate_frame_files(specs, batch_size=2, max_rows=3))
    assert sum(b.size for b in capped) == 3 and capped[-1].labels.tolist() == [1]
    with pytest.raises(InputError, match="expected frame files of task 'qg'"):
        list(iterate_frame_files(specs, task="qg"))


def test_row_specs():
    assert frame_rows("a/b.hdf5:10:20") == ("a/b.hdf5", 10, 20)
    assert frame_rows("b.parquet::5") == ("b.parquet", 0, 5)
    with pytest.raises(InputError, match="START < STOP"):
        frame_rows("b.h5:5:5")


def _message(exc):
    text = str(exc.value)
    assert "expected" in text and "found" in text and "fix" in text, text
    return text


def test_bad_files_are_refused(tmp_path, rng):
    bad = tmp_path / "small.h5"
    with h5py.File(bad, "w") as f:
        f["X_jets"] = np.zeros((2, 64, 64, 3), np.float32)
        f["y"] = np.zeros(2, np.float32)
    with pytest.raises(InputError) as exc:
        list(iterate_frames(bad))
    assert "[N, 125, 125, 3]" in _message(exc) and "(2, 64, 64, 3)" in str(exc.value)

    no_labels = tmp_path / "nolabels.h5"
    with h5py.File(no_labels, "w") as f:
        f["X_jets"] = np.zeros((2, 125, 125, 3), np.float32)
    with pytest.raises(InputError) as exc:
        list(iterate_frames(no_labels))
    assert "'y'" in _message(exc)

    labels3 = tmp_path / "labels3.h5"
    with h5py.File(labels3, "w") as f:
        f["X"] = np.zeros((3, 32, 32, 2), np.float32)
        f["y"] = np.array([0, 1, 2], np.float32)
    with pytest.raises(InputError) as exc:
        list(iterate_frames(labels3))
    assert "found [2.0]" in _message(exc)

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["images"] = np.zeros((1, 4), np.float32)
    with pytest.raises(InputError) as exc:
        frame_format(other)
    assert "'X_jets' (qg_hdf5)" in _message(exc) and "['images']" in str(exc.value)

    with pytest.raises(InputError) as exc:
        frame_format(other, "qg_parquet")
    assert "expected a parquet file for format 'qg_parquet'" in _message(exc)

    ragged = tmp_path / "ragged.parquet"
    images = [[[[0.0] * 125] * 125] * 3, [[[0.0] * 125] * 124] * 3]
    pq.write_table(pa.table({"X_jets": pa.array(images), "y": pa.array([0.0, 1.0])}), ragged)
    with pytest.raises(InputError) as exc:
        list(iterate_frames(ragged))
    assert "[124, 125]" in _message(exc)

    no_y = tmp_path / "noy.parquet"
    pq.write_table(pa.table({"X_jet": pa.array([[[[0.0]]]]), "m": pa.array([1.0])}), no_y)
    with pytest.raises(InputError) as exc:
        list(iterate_frames(no_y))
    assert "missing ['y']" in _message(exc)

    with pytest.raises(InputError) as exc:
        frame_format(tmp_path / "absent.h5")
    assert "no such file" in _message(exc)

    junk = tmp_path / "junk.h5"
    junk.write_text("not HDF5")
    with pytest.raises(InputError) as exc:
        list(iterate_frames(junk, format_name="egamma_hdf5"))
    assert "h5py cannot open it" in _message(exc)


def test_missing_h5py_names_the_extra(tmp_path, rng, monkeypatch):
    path = tmp_path / "qg.h5"
    write_qg_hdf5(path, rng, 1)
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'e2ejax\[hdf5\]'"):
        frame_format(path)
