"""examples/few_labels.ipynb runs from top to bottom, and the saved copy holds the outputs of such a run.

No Jupyter needed: :func:`execute` runs the code cells in order in one namespace, as a kernel would,
and records what a kernel records (printed text, the value of a cell's last expression, its PNG when
it has one: a PIL image). ``python -m tests.test_notebook`` runs the notebook and saves the outputs.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import sys
import time
import warnings
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "few_labels.ipynb"
PICTURES = ["bars", "curves", "latent", "recon"]  # ids of the cells that end with a picture


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def execute(nb: dict) -> dict:
    """Run the code cells of ``nb`` in order and put their outputs in it (nbformat 4); a cell that raises ends the run."""
    namespace: dict = {"__name__": "__main__"}
    count = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        count += 1
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exec(compile(tree, f"<cell {cell['id']}>", "exec"), namespace)
            value = eval(compile(ast.Expression(last.value), f"<cell {cell['id']}>", "eval"), namespace) if last else None
        err.write("".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught))
        outputs = [{"output_type": "stream", "name": name, "text": _lines(stream.getvalue())}
                   for name, stream in (("stdout", out), ("stderr", err)) if stream.getvalue()]
        if value is not None:
            data = {"text/plain": _lines(repr(value))}
            if hasattr(value, "_repr_png_"):
                data["image/png"] = base64.b64encode(value._repr_png_()).decode("ascii") + "\n"
            outputs.append({"output_type": "execute_result", "execution_count": count, "data": data, "metadata": {}})
        cell["outputs"], cell["execution_count"] = outputs, count
    return nb


def _read() -> dict:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))


def test_the_saved_notebook_is_an_executed_nbformat_4_notebook():
    nb = _read()
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))  # run in order, top to bottom
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])
    for cell in code:
        assert not [o for o in cell["outputs"] if o["output_type"] == "error" or o.get("name") == "stderr"], cell["id"]
    pictures = {c["id"]: c for c in code if any("image/png" in o.get("data", {}) for o in c["outputs"])}
    assert sorted(pictures) == sorted(PICTURES)
    for cell in pictures.values():
        png = base64.b64decode("".join(o["data"]["image/png"] for o in cell["outputs"] if "image/png" in o.get("data", {})))
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    printed = "".join(t for c in code for o in c["outputs"] if o["output_type"] == "stream" for t in o["text"])
    assert "ladder: test accuracy 0." in printed and "LabelSpreading (kNN)" in printed


def test_the_notebook_runs_without_error_or_warning():  # about 10-20 s on one idle thread (not asserted: no timed tests)
    nb = execute(_read())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not any(o.get("name") == "stderr" for o in c["outputs"]) for c in code), [
        o["text"] for c in code for o in c["outputs"] if o.get("name") == "stderr"]
    assert sorted(c["id"] for c in code if any("image/png" in o.get("data", {}) for o in c["outputs"])) == sorted(PICTURES)


if __name__ == "__main__":  # python -m tests.test_notebook: run the notebook, save it with its outputs
    start = time.perf_counter()
    nb = execute(_read())
    NOTEBOOK.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{NOTEBOOK}: executed in {time.perf_counter() - start:.1f} s", file=sys.stderr)
