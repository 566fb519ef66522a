"""`mmdoctor smoke-test` on the real CPU stack: mmcv 2.1.0 compiled from source (by the
compiled_stack_venv fixture, through check's own advice), mmdet 3.3.0, torch 2.13 CPU.

Real detections need the model zoo, which these machines cannot reach: the runs here use
random weights, or a checkpoint that the test writes with torch.save and serves over HTTPS from
127.0.0.1, so that download, hash check, cache and loading are exercised for real.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from fakes.https_server import Site

FAST = ["--model", "yolov3-mobilenetv2", "--runs", "1"]  # the smallest zoo model: quick on a CPU

WRITE_CHECKPOINT = """
import os, sys, torch, mmdet
from mmdet.apis import init_detector
config = os.path.join(os.path.dirname(mmdet.__file__), ".mim", "configs",
                      "yolo", "yolov3_mobilenetv2_8xb24-320-300e_coco.py")
model = init_detector(config, None, device="cpu")
torch.save({"state_dict": model.state_dict(), "meta": {}}, sys.argv[1])
"""


def stages(doc: dict) -> dict[str, str]:
    return {s["id"]: s["status"] for s in doc["stages"]}


@pytest.fixture(scope="session")
def test_checkpoint(compiled_stack_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real mmdet checkpoint (random weights), named the zoo's way: -<sha256[:8]>.pth."""
    folder = tmp_path_factory.mktemp("checkpoint")
    raw = folder / "raw.pth"
    subprocess.run(
        [str(compiled_stack_venv / "bin" / "python"), "-c", WRITE_CHECKPOINT, str(raw)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    named = folder / f"yolov3_test_20261125-{digest[:8]}.pth"
    raw.rename(named)
    return named


def test_every_stage_passes_on_the_cpu_with_random_weights(mmdoctor, compiled_stack_venv, tmp_path):
    out = tmp_path / "boxes.jpg"
    run = mmdoctor(
        "smoke-test",
        "--python",
        str(compiled_stack_venv),
        "--device",
        "cpu",
        "--weights",
        "none",
        *FAST,
        "--out",
        str(out),
        "--json",
    )
    doc = run.json()
    assert run.returncode == 0, doc["stages"]
    assert doc["command"] == "smoke-test" and doc["status"] == "passed"
    assert stages(doc) == {s: "ok" for s in ("torch", "ops", "detector", "inference", "timing")}
    assert "random weights" in doc["weights"]
    ops = next(s for s in doc["stages"] if s["id"] == "ops")["data"]
    assert ops["nms_reference"] == "a plain-Python NMS"
    assert ops["roi_align_max_abs_error"] <= 1e-4
    detector = next(s for s in doc["stages"] if s["id"] == "detector")["data"]
    assert detector["config"].endswith(
        "mmdet/.mim/configs/yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py"
    )
    assert doc["timing"]["runs"] == 1 and doc["timing"]["median_seconds"] > 0
    assert all(set(d) == {"class", "score", "box"} for d in doc["detections"])
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG with the boxes drawn


def test_the_default_model_in_human_output(mmdoctor, compiled_stack_venv):
    run = mmdoctor(
        "smoke-test", "--python", str(compiled_stack_venv), "--weights", "none", "--runs", "1"
    )
    assert run.returncode == 0, run.stdout
    assert "RetinaNet R50-FPN" in run.stdout
    assert "no NVIDIA GPU is visible: running on the CPU" in run.stdout
    assert "Every stage passed." in run.stdout


def test_a_checkpoint_is_downloaded_verified_cached_and_loaded(
    mmdoctor, compiled_stack_venv, test_checkpoint: Path, site: Site
):
    name = test_checkpoint.name
    (site.root / name).write_bytes(test_checkpoint.read_bytes())
    env = {**os.environ, **site.environ}
    args = ["smoke-test", "--python", str(compiled_stack_venv), "--device", "cpu", *FAST]
    run = mmdoctor(*args, "--checkpoint", f"{site.base}/{name}", "--json", env=env)
    doc = run.json()
    assert run.returncode == 0, doc["stages"]
    assert "verified by its name" in doc["weights"]
    # Not the zoo's file: no full unpickling; a tensors-only checkpoint loads without it.
    assert not any("full unpickling" in note for note in doc["notes"])
    cached = site.checkpoints / name
    assert cached.read_bytes() == test_checkpoint.read_bytes()
    requests = len(site.server.log)
    again = mmdoctor(*args, "--checkpoint", f"{site.base}/{name}", "--json", env=env)
    assert again.returncode == 0
    assert len(site.server.log) == requests  # the second run used the cache


def test_an_interrupted_checkpoint_download_resumes(
    mmdoctor, compiled_stack_venv, test_checkpoint: Path, site: Site
):
    name = test_checkpoint.name
    data = test_checkpoint.read_bytes()
    (site.root / name).write_bytes(data)
    env = {**os.environ, **site.environ}
    args = ["smoke-test", "--python", str(compiled_stack_venv), "--device", "cpu", *FAST]
    site.server.cut_after = len(data) // 3  # the connection drops a third of the way in
    first = mmdoctor(*args, "--checkpoint", f"{site.base}/{name}", env=env)
    assert first.returncode == 4
    assert "run again to resume" in first.stderr
    assert (site.checkpoints / f"{name}.part").stat().st_size == len(data) // 3
    site.server.cut_after = None
    second = mmdoctor(*args, "--checkpoint", f"{site.base}/{name}", "--json", env=env)
    assert second.returncode == 0, second.stdout
    assert site.server.log[-1].range == f"bytes={len(data) // 3}-"
    assert site.server.log[-1].sent == len(data) - len(data) // 3
    assert (site.checkpoints / name).read_bytes() == data


def test_with_real_weights_the_detections_are_judged(compiled_stack_venv, tmp_path):
    """The zoo weights must find a person on the shipped image. These random weights cannot:
    the same script, asked to expect a person above 0.99, fails its inference stage."""
    from mmdoctor.paths import SHIPPED_IMAGE
    from mmdoctor.planning.matrix import load_matrix
    from mmdoctor.probe.inside import run_marked
    from mmdoctor.smoke.run import SmokeOptions, settings

    model = load_matrix().smoke_model("yolov3-mobilenetv2")
    options = SmokeOptions(
        python=None, device="cpu", model=model.id, image=None, weights="none", checkpoint=None,
        score_thr=0.3, out=None, runs=1, timeout=300,
    )  # fmt: skip
    script = (Path(__file__).parents[1] / "src/mmdoctor/smoke/inside_smoke.py").read_text()
    args = settings(
        device="cpu", model=model, checkpoint=None, image=str(SHIPPED_IMAGE),
        expect={"classes": ["person"], "score": 0.99}, options=options,
    )  # fmt: skip
    _begun, finished, culprit = run_marked(
        str(compiled_stack_venv / "bin" / "python"), script, [json.dumps(args)],
        step_timeout=300, total_timeout=900, env=dict(os.environ),
    )  # fmt: skip
    assert culprit is None
    assert finished["detector"].ok
    inference = finished["inference"]
    assert not inference.ok
    assert "expected a person above 0.99" in (inference.error or "")
    assert "timing" not in finished  # the stages stop at the first failure


def test_a_checkpoint_with_a_wrong_hash_is_refused(
    mmdoctor, compiled_stack_venv, test_checkpoint: Path, site: Site
):
    wrong = "yolov3_test_20261125-00000000.pth"
    (site.root / wrong).write_bytes(test_checkpoint.read_bytes())
    run = mmdoctor(
        "smoke-test",
        "--python",
        str(compiled_stack_venv),
        "--device",
        "cpu",
        *FAST,
        "--checkpoint",
        f"{site.base}/{wrong}",
        "--json",
        env={**os.environ, **site.environ},
    )
    assert run.returncode == 2
    assert "refused, not loaded" in run.stderr
    assert json.loads(run.stdout)["status"] == "error"
    assert not (site.checkpoints / wrong).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--image", "/nonexistent.jpg"], "--image /nonexistent.jpg: no such file"),
        (["--model", "yolov99"], "--model yolov99: unknown model"),
        (["--device", "cuda:3"], "--device cuda:3: this machine has no NVIDIA GPU"),
        (["--device", "tpu"], "--device tpu: expected cpu, cuda or cuda:N"),
        (["--weights", "maybe"], "--weights maybe: expected zoo or none"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(mmdoctor, bare_venv, args, message):
    run = mmdoctor("smoke-test", "--python", str(bare_venv), *args)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert message in run.stderr


def test_a_file_that_is_not_an_image(mmdoctor, bare_venv, tmp_path):
    fake = tmp_path / "photo.jpg"
    fake.write_text("not really a photo\n")
    run = mmdoctor("smoke-test", "--python", str(bare_venv), "--image", str(fake))
    assert run.returncode == 2
    assert "not an image" in run.stderr


def test_a_broken_stack_fails_its_stage_with_advice(mmdoctor, stack_venv):
    """mmcv-lite has no ops: the ops stage fails (no crash), and the later stages do not run."""
    run = mmdoctor(
        "smoke-test", "--python", str(stack_venv), "--device", "cpu", "--weights", "none", "--json"
    )
    assert run.returncode == 1
    doc = run.json()
    assert stages(doc)["torch"] == "ok"
    ops = next(s for s in doc["stages"] if s["id"] == "ops")
    assert ops["status"] == "fail" and ops["known_failure"] == "mmcv-ext-missing"
    assert stages(doc)["detector"] == "skip"


def test_a_target_without_the_stack_fails_first_and_fetches_nothing(mmdoctor, bare_venv, tmp_path):
    # issue 13.9: a bare venv used to fetch (or fail to fetch) ~145 MB of weights first
    cache = tmp_path / "cache"
    env = {**os.environ, "MMDOCTOR_CACHE_DIR": str(cache)}
    run = mmdoctor("smoke-test", "--python", str(bare_venv), "--device", "cpu", "--json", env=env)
    assert run.returncode == 1, run.stderr
    doc = run.json()
    torch = doc["stages"][0]
    assert torch["id"] == "torch" and torch["status"] == "fail"
    assert "torch, mmcv, mmdet" in torch["summary"]
    assert (
        torch["advice"]
        == f"install the stack first: mmdoctor install --python {bare_venv / 'bin' / 'python'}"
    )
    assert {s["status"] for s in doc["stages"][1:]} == {"skip"}
    assert not cache.exists()  # nothing was downloaded


def test_an_image_that_is_a_folder(mmdoctor, bare_venv, tmp_path):
    run = mmdoctor("smoke-test", "--python", str(bare_venv), "--image", str(tmp_path))
    assert run.returncode == 2
    assert f"--image {tmp_path}: a folder, not an image file" in run.stderr
