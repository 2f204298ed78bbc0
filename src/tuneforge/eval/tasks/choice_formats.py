"""Multiple-choice files as records: JSONL scored verbatim, MMLU CSVs in the harness's prompt.

Two shapes, one record type:

- JSONL (or a JSON list): `{"prompt": str, "choices": [str, ...], "answer": int}`. The
  prompt is the context and each choice its continuation, exactly as written: no
  description, no separator, so the file decides every character the model sees.
- CSV in MMLU's layout, `question,A,B,C,D,answer` with the answer a letter, with that
  header or without one (the original dataset's `data/test/<subject>_test.csv` files have
  none). The prompt is lm-evaluation-harness's default MMLU template
  (`lm_eval/tasks/mmlu/default/_default_template_yaml`):

      The following are multiple choice questions (with answers) about {subject}.\\n\\n
      {question.strip()}\\nA. {A}\\nB. {B}\\nC. {C}\\nD. {D}\\nAnswer:

  with continuations " A", " B", ...: the choice is the letter, joined by the harness's
  target delimiter " ". The subject is the row's `subject` cell when the CSV has that
  column, else the file name with its split suffix dropped
  (`high_school_physics_test.csv` -> "high school physics", as the harness's
  `_generate_configs.py` writes it).

A bad record is one DataError naming its file, line and field.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneforge.data.read.streams import data_suffix, text_lines
from tuneforge.data.readers import raw_records
from tuneforge.errors import DataError

MMLU_DESCRIPTION = "The following are multiple choice questions (with answers) about {subject}.\n\n"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SPLIT_SUFFIX = re.compile(r"_(test|dev|val|validation|train)$")


@dataclass(frozen=True)
class ChoiceRecord:
    prompt: str
    """The question as the model reads it (without description or few-shot examples)."""
    choices: list[str]
    """The answers as scored, without the delimiter: "A" for MMLU, the text for JSONL.
    Their UTF-8 lengths normalise `acc_norm`."""
    answer: int
    line: int | None
    where: str
    description: str = ""
    """Text before everything else in the record's context (MMLU's subject line)."""


@dataclass(frozen=True)
class ChoiceFile:
    records: list[ChoiceRecord]
    delimiter: str
    """Joins a prompt and a choice: " " for MMLU (harness's target_delimiter), "" for JSONL."""


def read_choice_file(path: str | Path) -> ChoiceFile:
    """The records of a multiple-choice file; the first bad one raises its DataError."""
    path = Path(path)
    if data_suffix(path) == ".csv":
        return _read_csv(path)
    records = [_jsonl_record(where, line, obj) for where, line, obj in raw_records(path)]
    return ChoiceFile(records, delimiter="")


def mmlu_prompt(question: str, options: list[str]) -> str:
    """The harness's MMLU `doc_to_text`: the question stripped, the options as written."""
    lines = [question.strip()]
    lines += [f"{letter}. {option}" for letter, option in zip(LETTERS, options, strict=False)]
    return "\n".join(lines) + "\nAnswer:"


def subject_of(path: Path) -> str:
    """`abstract_algebra_test.csv` -> "abstract algebra"."""
    stem = path.name[: -len(data_suffix(path))] if data_suffix(path) else path.stem
    return " ".join(_SPLIT_SUFFIX.sub("", stem).split("_"))


def _jsonl_record(where: str, line: int | None, obj: Any) -> ChoiceRecord:
    if isinstance(obj, DataError):
        raise obj
    if not isinstance(obj, dict):
        raise DataError(where, line, None, "expected an object {prompt, choices, answer}")
    for key in ("prompt", "choices", "answer"):
        if key not in obj:
            raise DataError(where, line, key, "missing; a record is {prompt, choices, answer}")
    prompt, choices, answer = obj["prompt"], obj["choices"], obj["answer"]
    if not isinstance(prompt, str):
        raise DataError(where, line, "prompt", f"expected a string, got {type(prompt).__name__}")
    if not isinstance(choices, list) or len(choices) < 2:
        raise DataError(where, line, "choices", "expected a list of at least 2 strings")
    for i, choice in enumerate(choices):
        if not isinstance(choice, str) or not choice:
            raise DataError(where, line, f"choices[{i}]", "expected a non-empty string")
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise DataError(
            where, line, "answer", f"expected the index of the right choice, got {answer!r}"
        )
    if not 0 <= answer < len(choices):
        raise DataError(
            where, line, "answer", f"{answer} is not an index of the {len(choices)} choices"
        )
    return ChoiceRecord(prompt, list(choices), answer, line, where)


def _read_csv(path: Path) -> ChoiceFile:
    """MMLU CSV with or without a header; line numbers are where each row starts."""
    where = str(path)
    reader = csv.reader(text_lines(path))
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if row:  # a blank line reads as an empty row
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(where, reader.line_num, None, f"cannot read this CSV row: {exc}") from None
    if not rows:
        raise DataError(where, None, None, "empty file: no records")
    header = _header(rows[0][1])
    if header is None:  # the original MMLU files: question, options..., answer letter
        columns = ["question", *LETTERS[: len(rows[0][1]) - 2], "answer"]
    else:
        columns, rows = header, rows[1:]
        if not rows:
            raise DataError(where, None, None, "only a header row: no records")
    letters = [c for c in columns if len(c) == 1 and c in LETTERS]
    if len(letters) < 2 or "question" not in columns or "answer" not in columns:
        raise DataError(
            where, rows[0][0], None,
            "expected MMLU columns question,A,B,C,D,answer (with or without a header row)",
        )  # fmt: skip
    records, subject = [], subject_of(path)
    for line, row in rows:
        if len(row) != len(columns):
            raise DataError(
                where, line, None,
                f"{len(row)} cells, expected {len(columns)} ({','.join(columns)})",
            )  # fmt: skip
        cells = dict(zip(columns, row, strict=True))
        named = " ".join(cells.get("subject", "").split("_"))  # as in the file name
        description = MMLU_DESCRIPTION.format(subject=named or subject)
        records.append(_csv_record(where, line, cells, letters, description))
    return ChoiceFile(records, delimiter=" ")


def _header(row: list[str]) -> list[str] | None:
    """The column names when the first row is a header, else None. A header names
    `question` and `answer`; any other first row is data (MMLU's own files)."""
    names = [cell.strip() for cell in row]
    lowered = [n.lower() for n in names]
    if "question" not in lowered or "answer" not in lowered:
        return None
    return [n.upper() if len(n) == 1 else n.lower() for n in names]


def _csv_record(
    where: str, line: int, cells: dict[str, str], letters: list[str], description: str
) -> ChoiceRecord:
    answer = cells["answer"].strip().upper()
    if answer not in letters:
        raise DataError(
            where, line, "answer",
            f"expected one of {', '.join(letters)}, got {cells['answer']!r}",
        )  # fmt: skip
    if not cells["question"].strip():
        raise DataError(where, line, "question", "empty question")
    options = [cells[letter] for letter in letters]
    prompt = mmlu_prompt(cells["question"], options)
    return ChoiceRecord(prompt, letters, letters.index(answer), line, where, description)
