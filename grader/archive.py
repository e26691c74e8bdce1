"""Reproducible zips: the same members give the same bytes, whoever builds them and when."""

from __future__ import annotations

import zipfile
from pathlib import Path

# A fixed timestamp and fixed permissions: only the members' names and bytes matter.
_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def write_zip(
    out: Path, members: dict[str, bytes], executable: frozenset[str] = frozenset()
) -> None:
    """Write ``members`` (name in the zip → bytes) to ``out`` atomically, in the given order.

    Names in ``executable`` get mode 755 (unzip applies it), the rest 644.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_TIMESTAMP)
            info.create_system = 3  # Unix: unzip then applies the permission bits below
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    partial.replace(out)
