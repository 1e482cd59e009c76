"""notebooks/quickstart.ipynb, executed as Colab would run it, on a CPU with 1 generator iteration."""
import nbclient
import nbformat

from tests.helpers import REPO


def test_the_quickstart_notebook_trains_shows_grids_generates_and_exports(tmp_path, monkeypatch):
    logdir = tmp_path / "run"
    monkeypatch.setenv("QUICKSTART_TRAIN_STEPS", "1")  # the kernel and its commands inherit these
    monkeypatch.setenv("QUICKSTART_DATASET", "mnist_5k")  # offline: the bundled digits
    monkeypatch.setenv("QUICKSTART_LOGDIR", str(logdir))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    notebook = nbformat.read(REPO / "notebooks" / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()  # raises if a cell fails

    images = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])
              if "image/png" in output.get("data", {})]
    assert len(images) >= 2  # the latest sample grid during training, the generated samples' grid
    assert (logdir / "samples" / "latest.png").is_file() and (logdir / "samples.npz").is_file()
    assert (logdir / "export" / "generator.keras").is_file()
