"""``steerlab kb ingest|search|stats``: a task's knowledge base as a versioned retrieval index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from steerlab.cli.app import JsonOption, console, err_console, kb_app, progress_display

__all__ = ["kb_ingest", "kb_search", "kb_stats"]

TaskOrFolder = Annotated[
    Path,
    typer.Argument(help="A task folder (its task.yaml names data.knowledge_base) or a folder of documents."),
]
WorkspaceOption = Annotated[
    Path | None,
    typer.Option(help="Where indexes are stored (default TASK_DIR/.steerlab).", envvar="STEERLAB_WORKSPACE"),
]
NameOption = Annotated[str, typer.Option("--name", help="Knowledge-base name within the workspace.")]


def _source_and_workspace(path: Path, workspace: Path | None) -> tuple[Path, Path]:
    """A task folder gives both its knowledge base and its workspace; a plain folder of
    documents needs ``--workspace`` unless it sits beside nothing else (then FOLDER/.steerlab)."""
    from steerlab.data.check import workspace_for
    from steerlab.errors import ConfigError
    from steerlab.task import load_task

    if (path / "task.yaml").is_file() or path.name == "task.yaml":
        task = load_task(path)
        paths = task.data_paths
        if "knowledge_base" not in paths:
            raise ConfigError(
                f"{task.dir / 'task.yaml'} has no data.knowledge_base",
                hint="add `knowledge_base: kb/` under data:, or pass a folder of documents",
            )
        return paths["knowledge_base"][0], workspace_for(task, workspace)
    if not path.exists():
        raise ConfigError(f"{path} does not exist", path=path)
    return path, Path(workspace) if workspace else (path if path.is_dir() else path.parent) / ".steerlab"


@kb_app.command("ingest")
def kb_ingest(
    source: TaskOrFolder,
    workspace: WorkspaceOption = None,
    name: NameOption = "default",
    chunk_size: Annotated[int, typer.Option(help="Largest chunk, in characters.")] = 800,
    overlap: Annotated[int, typer.Option(help="Characters shared by consecutive chunks of a section.")] = 120,
    as_json: JsonOption = False,
) -> None:
    """Read Markdown, text, HTML and PDF files, chunk them by structure, embed and index them.

    Only new or changed files are parsed and embedded again; bad files are reported and skipped.
    Example: [bold]steerlab kb ingest examples/policy-qa[/bold]
    """
    from steerlab.retrieval.index import ChunkSettings, ingest

    folder, space = _source_and_workspace(source, workspace)
    with progress_display() as progress:
        report = ingest(
            folder, space, name=name, settings=ChunkSettings(chunk_size, overlap), progress=progress
        )
    if as_json:
        console.print_json(json.dumps(report.as_dict(), default=str))
        return
    for skipped in report.skipped:
        err_console.print(f"[yellow]skipped[/yellow] {skipped.source}: {skipped.reason}")
    state = "already built" if report.already_built else f"built in {report.seconds:.1f} s"
    console.print(
        f"[green]{report.name}[/green] {report.version} ({state}): {report.documents} documents, "
        f"{report.chunks} chunks; parsed {len(report.parsed)}, unchanged {len(report.unchanged)}, "
        f"removed {len(report.removed)}, skipped {len(report.skipped)}; embedded {report.embedded} chunks"
    )


@kb_app.command("search")
def kb_search(
    source: TaskOrFolder,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="How many chunks to return.")] = 4,
    fusion: Annotated[str, typer.Option(help="rrf (dense + BM25), dense or bm25.")] = "rrf",
    version: Annotated[str | None, typer.Option(help="Index version (default: current).")] = None,
    workspace: WorkspaceOption = None,
    name: NameOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Show the chunks a retrieval candidate would put in front of the model for QUERY.

    Example: [bold]steerlab kb search examples/policy-qa "how long do I have to return a tent?"[/bold]
    """
    from steerlab.retrieval.index import KnowledgeBase

    _, space = _source_and_workspace(source, workspace)
    knowledge = KnowledgeBase.open(space, name, version)
    try:
        hits = knowledge.search(query, k=k, fusion=fusion)
    finally:
        knowledge.close()
    if as_json:
        rows = [
            {
                "id": h.chunk.id,
                "passage": h.chunk.passage,
                "source": h.chunk.source,
                "section": h.chunk.section,
                "score": h.score,
                "dense_rank": h.dense_rank,
                "lexical_rank": h.lexical_rank,
                "text": h.chunk.text,
            }
            for h in hits
        ]
        console.print_json(json.dumps({"version": knowledge.version, "hits": rows}))
        return
    table = Table(title=f"{knowledge.version}: {query}")
    for column in ("#", "chunk", "section", "score", "dense", "bm25", "text"):
        table.add_column(column)
    for rank, hit in enumerate(hits, start=1):
        text = " ".join(hit.chunk.text.split())
        table.add_row(
            str(rank),
            hit.chunk.id,
            hit.chunk.section or "-",
            f"{hit.score:.4f}",
            str(hit.dense_rank or "-"),
            str(hit.lexical_rank or "-"),
            text[:160] + ("…" if len(text) > 160 else ""),
        )
    console.print(table)


@kb_app.command("stats")
def kb_stats(
    source: TaskOrFolder,
    version: Annotated[str | None, typer.Option(help="Index version (default: current).")] = None,
    workspace: WorkspaceOption = None,
    name: NameOption = "default",
    as_json: JsonOption = False,
) -> None:
    """Documents, chunks, chunk sizes, settings and skipped files of an index, and its versions.

    Example: [bold]steerlab kb stats examples/policy-qa[/bold]
    """
    from steerlab.retrieval.index import KnowledgeBase, list_versions

    _, space = _source_and_workspace(source, workspace)
    knowledge = KnowledgeBase.open(space, name, version)
    stats = knowledge.stats()
    stats["versions"] = [m["version"] for m in list_versions(space, name)]
    if as_json:
        console.print_json(json.dumps(stats))
        return
    sizes = stats["chunk_chars"]
    console.print(
        f"[bold]{stats['name']}[/bold] {stats['version']} (created {stats['created']}): "
        f"{stats['documents']} documents, {stats['chunks']} chunks of {sizes['min']} to {sizes['max']} "
        f"characters (median {sizes['median']}); chunk size {stats['settings']['size']}, overlap "
        f"{stats['settings']['overlap']}; embedder {stats['embedder']}"
    )
    for skipped in stats["skipped"]:
        console.print(f"  [yellow]skipped[/yellow] {skipped['source']}: {skipped['reason']}")
    console.print(f"versions: {', '.join(stats['versions'])}")
