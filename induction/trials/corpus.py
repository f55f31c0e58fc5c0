"""The offline corpora: the one reader of the bundled python-docs corpus and of folders of .txt files.

Why one place: natural-text maps, the ICL score and the word unit all read the same documents; reading them
in one place means one order, one name per document and one error for a folder with nothing in it.
`python-docs` is the text of Python's own help topics (`pydoc_data.topics`), which ships with every Python:
it works offline and is the same on every machine with the same Python.

The models trained here read python-docs text during training, so their ICL score must not: python-docs is split
by a fixed rule into training topics and held-out topics (`held_out`), training reads only the former
(`python-docs-train`), and their ICL reads only the latter (`python-docs-held-out`, one document per paragraph of
a held-out topic that shares no 50-character stretch with the training topics, so that a 60-character context
has a few hundred documents to draw from).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from induction.config import ConfigError

PYTHON_DOCS = "python-docs"
PYTHON_DOCS_TRAIN = "python-docs-train"  # the topics that are not held out: what the models trained here read
PYTHON_DOCS_HELD_OUT = "python-docs-held-out"  # the held-out topics, a document per paragraph: their ICL corpus
HELD_OUT_EVERY = 5  # a topic is held out when the SHA-256 of its name is 0 modulo this (17 of Python 3.11's 79)
HELD_OUT_RULE = f"a python-docs topic is held out when int(sha256(topic name), 16) % {HELD_OUT_EVERY} == 0"
NAMED_CORPORA = (PYTHON_DOCS, PYTHON_DOCS_TRAIN, PYTHON_DOCS_HELD_OUT)


def python_docs() -> dict[str, str]:
    """The python-docs corpus: topic name -> text, in name order."""
    from pydoc_data.topics import topics

    return dict(sorted(topics.items()))


def held_out(topic: str, every: int = HELD_OUT_EVERY) -> bool:
    """Whether a python-docs topic is held out of training: a rule on its name alone, so it holds on any Python
    whatever topics are added or removed."""
    return int(hashlib.sha256(topic.encode()).hexdigest(), 16) % every == 0


def training_documents(every: int = HELD_OUT_EVERY) -> dict[str, str]:
    """The python-docs topics the models trained here read: those not held out, in name order."""
    return {name: text for name, text in python_docs().items() if not held_out(name, every)}


OVERLAP = 50  # characters: a held-out paragraph sharing this long a stretch with the training topics is dropped


@lru_cache(maxsize=2)
def held_out_documents(every: int = HELD_OUT_EVERY) -> dict[str, str]:
    """The held-out topics, one document per paragraph (blank-line separated, stripped), named topic#k, less every
    paragraph that shares OVERLAP characters with a training topic (python-docs repeats some passages across
    topics, and a held-out document must be text the trained models never read)."""
    training = "\n".join(training_documents(every).values())
    seen = _windows(training)

    def read(p: str) -> bool:  # a paragraph shorter than OVERLAP counts as read when it occurs whole
        return p in training if len(p) < OVERLAP else any(w in seen for w in _windows_of(p))

    docs = {}
    for name, text in python_docs().items():
        if held_out(name, every):
            paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", text)]
            docs.update({f"{name}#{k}": p for k, p in enumerate(q for q in paragraphs if q) if not read(p)})
    return docs


def _windows_of(text: str) -> list[str]:
    return [text[i:i + OVERLAP] for i in range(max(1, len(text) - OVERLAP + 1))]


def _windows(text: str) -> set[str]:
    """Every OVERLAP-character stretch of `text`."""
    return set(_windows_of(text))


def folder_documents(folder: str | Path) -> dict[str, str]:
    """A folder's .txt files: file name -> text (undecodable bytes replaced), in name order."""
    files = sorted(Path(folder).glob("*.txt"))
    if not files:
        raise ConfigError(f"the folder {str(folder)!r} has no .txt files")
    return {p.name: p.read_text(errors="replace") for p in files}


def offline_documents(corpus: str) -> dict[str, str]:
    """Named documents of an offline corpus: python-docs (or its training or held-out part), a folder of .txt
    files, or one .txt file."""
    if corpus == PYTHON_DOCS:
        return python_docs()
    if corpus == PYTHON_DOCS_TRAIN:
        return training_documents()
    if corpus == PYTHON_DOCS_HELD_OUT:
        return dict(held_out_documents())
    path = Path(corpus)
    if path.is_dir():
        return folder_documents(path)
    if path.is_file() and path.suffix == ".txt":
        return {path.name: path.read_text(errors="replace")}
    raise ConfigError(f"unknown corpus {corpus!r}: use {', '.join(NAMED_CORPORA)}, a .txt file or a folder of "
                      ".txt files")
