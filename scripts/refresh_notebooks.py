"""Re-run the phase notebooks on the bundled test week and keep only their checked outputs.

The notebooks in notebooks/ are the source: edit them in Jupyter, then run this
(`make notebooks`) so that the cells marked ``# NBVAL_CHECK_OUTPUT`` carry their
current outputs (nbval compares them in `make test`) and every other output and
execution count is cleared before committing.
"""

from __future__ import annotations

import sys

import nbformat
from nbclient import NotebookClient

from tars_lib.core.workspace import PROJECT
from tars_lib.report.runner import PHASE_NOTEBOOKS

CHECK = "# NBVAL_CHECK_OUTPUT"


def keep_check_outputs(book: nbformat.NotebookNode) -> None:
    for cell in book.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and not cell.source.startswith(CHECK):
            cell.outputs = []
            cell.execution_count = None


def main() -> None:
    for name in PHASE_NOTEBOOKS:
        path = PROJECT.notebook(name)
        book = nbformat.read(path, as_version=4)
        NotebookClient(
            book,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(PROJECT.notebook_dir)}},
        ).execute()
        keep_check_outputs(book)
        nbformat.write(book, path)
        print(f"refreshed {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
