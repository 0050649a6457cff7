"""The architect notebooks (``notebooks/*.ipynb``) run top to bottom and draw every plot.

Each notebook runs as ``jupyter lab`` would run it - a fresh kernel, the notebook's folder as working
directory, its default parameters - through nbclient, with:

- the kernel of *this* interpreter (the project's ``.venv`` under ``make test``): ipykernel's native
  kernel spec launched with ``sys.executable``, whatever other kernel specs the machine has installed; a
  cell put before the notebook's own checks inside the kernel that it is so;
- ``TWIN_CACHE`` in a fresh folder, so the notebook really simulates (nothing comes from an earlier
  run's cache), and ``MPLBACKEND=Agg``, so a notebook shows plots only if it asks for inline figures.

A notebook passes when no cell raised and every cell tagged ``plot`` left at least one PNG among its
outputs. The committed files are also checked for shape: no outputs, a first code cell tagged
``parameters`` (papermill), at least one ``plot`` cell.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import default

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
IDS = [path.stem for path in PATHS]
CELL_TIMEOUT = 600  # seconds; a notebook takes well under a minute

# Run first in the kernel: which interpreter it is, as JSON on stdout.
WHO_AM_I = "import json as _j, sys as _s; print(_j.dumps({'executable': _s.executable, 'prefix': _s.prefix}))"


class ThisInterpreterKernel(AsyncKernelManager):
    """The native kernel (ipykernel, launched with ``sys.executable``), never an installed kernel spec."""

    @default("kernel_spec_manager")
    def _native_only(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])


def test_the_six_notebooks_are_there() -> None:
    assert [path.name[:3] for path in PATHS] == ["01_", "02_", "03_", "04_", "05_", "06_"], PATHS


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_notebook_is_committed_clean(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name} has no code"
    assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: the first code cell is not 'parameters'"
    assert any("plot" in cell.metadata.get("tags", []) for cell in code), f"{path.name}: no cell tagged 'plot'"
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.get("outputs") or cell.get("execution_count")]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; strip them before committing"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_notebook_runs_and_draws_its_plots(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(WHO_AM_I))
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        kernel_manager_class=ThisInterpreterKernel,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    env = {**os.environ, "TWIN_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    client.execute(env=env)  # raises CellExecutionError (naming the cell) if any cell raised

    identity = json.loads("".join(o["text"] for o in notebook.cells[0].outputs if o.output_type == "stream"))
    assert identity["executable"] == sys.executable, identity  # not resolved: a venv's python is a symlink
    assert Path(identity["prefix"]) == Path(sys.prefix), identity
    assert Path(identity["executable"]).is_relative_to(identity["prefix"]), identity

    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert not errors, [f"{o.ename}: {o.evalue}" for o in errors]
    plots = [cell for cell in notebook.cells if "plot" in cell.metadata.get("tags", [])]
    assert plots, f"{path.name}: no cell tagged 'plot'"
    for cell in plots:
        images = [
            o for o in cell.outputs if o.output_type in ("display_data", "execute_result") and "image/png" in o.data
        ]
        assert images, f"{path.name}: a plot cell drew no PNG:\n{cell.source}"
    assert (tmp_path / "cache").is_dir(), "the notebook did not use the fresh TWIN_CACHE"
