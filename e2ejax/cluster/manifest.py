"""The manifest of a many-file run: one JSON file in the output directory, true after every file.

It records, per input: its output, entry range, entries and seeds tagged, the models (name,
spec, task and the SHA-256 of each model card), the e2ejax version, the output's SHA-256 and
the status (``done`` or ``failed`` with the error). It is rewritten atomically
(:func:`e2ejax.io.write_json_atomic`) after every finished or failed file, so a run killed at
any moment leaves a manifest that names only outputs that are complete. One rewrite costs
time in proportion to the entries (about 0.5 s at 10^4), so when files finish faster than
that, a rewrite is skipped while the last one took more than 5% of the time since it
(:meth:`Manifest.flush` writes what is left at the end): a killed run then redoes at most the
files finished since the last rewrite, and the manifest never names an incomplete output.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from e2ejax import __version__
from e2ejax.errors import InputError
from e2ejax.io import write_json_atomic

__all__ = ["Manifest", "MANIFEST_NAME", "FORMAT", "sha256_file"]

MANIFEST_NAME = "e2ejax-manifest.json"
FORMAT = "e2ejax-tag-manifest-1"

#: a rewrite waits until this many times its last cost has passed (the rewrites then take at most 5% of the driver's time)
_REWRITE_SHARE = 20


def sha256_file(path) -> str:
    """The SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """The manifest of the output directory ``outdir`` (read when it exists).

    Args:
        outdir: the output directory.
        models: score name -> ``{"spec", "task", "card_sha256"}`` of this run's models.
        options: the options that shape the outputs (batch size, backend, ...), recorded.
        reading: how the inputs are read where that changes the scores (``track_projection`` of
            MLAnalyzer ntuples), recorded per file: a file done with other reading is redone.
    """

    def __init__(self, outdir, *, models: dict, options: dict, reading: dict | None = None):
        self.path = os.path.join(os.fspath(outdir), MANIFEST_NAME)
        self.models, self.options, self.reading = models, options, dict(reading or {})
        self.files: dict[str, dict] = {}
        self._last_write, self._last_cost, self._dirty = 0.0, 0.0, False
        if os.path.exists(self.path):
            try:
                data = json.loads(open(self.path).read())
                if data.get("format") != FORMAT:
                    raise ValueError(f"format {data.get('format')!r}")
                self.files = dict(data["files"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise InputError(f"expected an e2ejax manifest at {self.path!r}; found an unreadable one ({exc}); "
                                 "fix: remove it (the outputs beside it are then all redone) or choose another -o") from None

    def complete(self, spec: str, output: str, entry_range: tuple[int, int | None]) -> bool:
        """True when ``spec`` is recorded done into ``output`` with these models and range, and the output
        is there with the recorded checksum."""
        entry = self.files.get(spec)
        if not entry or entry.get("status") != "done" or entry.get("output") != os.path.abspath(output):
            return False
        if entry.get("models") != self.models or tuple(entry.get("entry_range", ())) != tuple(entry_range):
            return False
        if entry.get("reading", {}) != self.reading:
            return False
        return os.path.isfile(output) and sha256_file(output) == entry.get("sha256")

    def done(self, spec: str, output: str, entry_range, summary: dict) -> dict:
        """Record ``spec`` as done (its output's checksum is taken now) and write the manifest."""
        entry = {"status": "done", "output": os.path.abspath(output), "entry_range": list(entry_range),
                 "sha256": sha256_file(output), **summary}
        return self._record(spec, entry)

    def failed(self, spec: str, output: str, entry_range, error: str) -> dict:
        """Record ``spec`` as failed with its one-line error and write the manifest."""
        return self._record(spec, {"status": "failed", "output": os.path.abspath(output), "entry_range": list(entry_range),
                                   "error": error})

    def _record(self, spec: str, entry: dict) -> dict:
        entry.update(models=self.models, reading=self.reading, e2ejax_version=__version__, finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.files[spec] = entry
        self._dirty = True
        if time.monotonic() - self._last_write >= _REWRITE_SHARE * self._last_cost:
            self.flush()
        return entry

    def flush(self) -> None:
        """Write the manifest if a record is not written yet."""
        if self._dirty:
            self.save()

    def to_dict(self) -> dict:
        return {"format": FORMAT, "e2ejax_version": __version__, "models": self.models, "options": self.options,
                "files": self.files}

    def save(self) -> None:
        """Write the manifest now (atomically, synced to disk)."""
        t0 = time.monotonic()
        write_json_atomic(self.path, self.to_dict())
        self._last_write = time.monotonic()
        self._last_cost, self._dirty = self._last_write - t0, False
