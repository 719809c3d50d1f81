"""The provenance record (``e2ejax_info``) that ``e2ejax simulate`` stores in each file."""

from __future__ import annotations

import json

import uproot

__all__ = ["file_provenance"]


def file_provenance(path: str) -> dict:
    """``{"path", "command", "sample", "seed", "events", "pileup"}`` of a file written by ``e2ejax simulate``
    (``pileup``: the mean number of overlaid minimum-bias interactions).

    Files without the record (or unreadable ones) give ``{"path": path}`` only: provenance
    is informative and never stops a job.
    """
    out = {"path": str(path)}
    try:
        with uproot.open(str(path)) as f:
            if "e2ejax_info" not in f:
                return out
            info = json.loads(str(f["e2ejax_info"]))
    except (OSError, ValueError, TypeError):
        return out
    out.update({k: info[k] for k in ("command", "sample", "seed", "events", "pileup") if k in info})
    return out
