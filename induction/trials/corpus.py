"""The offline corpora: the one reader of the bundled python-docs corpus and of folders of .txt files.

Why one place: natural-text maps, the ICL score and the word unit all read the same documents; reading them
in one place means one order, one name per document and one error for a folder with nothing in it.
`python-docs` is the text of Python's own help topics (`pydoc_data.topics`), which ships with every Python:
it works offline and is the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

from induction.config import ConfigError

PYTHON_DOCS = "python-docs"


def python_docs() -> dict[str, str]:
    """The python-docs corpus: topic name -> text, in name order."""
    from pydoc_data.topics import topics

    return dict(sorted(topics.items()))


def folder_documents(folder: str | Path) -> dict[str, str]:
    """A folder's .txt files: file name -> text (undecodable bytes replaced), in name order."""
    files = sorted(Path(folder).glob("*.txt"))
    if not files:
        raise ConfigError(f"the folder {str(folder)!r} has no .txt files")
    return {p.name: p.read_text(errors="replace") for p in files}


def offline_documents(corpus: str) -> dict[str, str]:
    """Named documents of an offline corpus: python-docs, a folder of .txt files, or one .txt file."""
    if corpus == PYTHON_DOCS:
        return python_docs()
    path = Path(corpus)
    if path.is_dir():
        return folder_documents(path)
    if path.is_file() and path.suffix == ".txt":
        return {path.name: path.read_text(errors="replace")}
    raise ConfigError(f"unknown corpus {corpus!r}: use {PYTHON_DOCS}, a .txt file or a folder of .txt files")
