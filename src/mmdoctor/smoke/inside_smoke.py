# Runs INSIDE the target interpreter (python -c) for `mmdoctor smoke-test`: Python 3.7+ syntax,
# torch / mmcv / mmdet imported inside the stages. It is never imported by mmdoctor itself.
#
# argv[1] is a JSON object of settings (device, configs, checkpoint, image, ...). The stages run
# in order and stop at the first failure. Same protocol as the probe (probe/inside_script.py):
#   @@MMDOCTOR {"begin": STAGE}   then   @@MMDOCTOR {"step": STAGE, "ok": ..., "data": ...}
# so that a segfault or a hung CUDA call becomes a failed stage, not a crash of mmdoctor.
import json
import math
import os
import sys
import time
import traceback

MYPY = False
if MYPY:  # typing is not imported at run time: the script stays tiny and 3.7-safe
    from typing import Any, Callable, Dict, List, Tuple  # noqa: F401

MARKER = "@@MMDOCTOR "
SETTINGS = json.loads(sys.argv[1])  # type: Dict[str, Any]
STATE = {}  # type: Dict[str, Any]


def emit(obj):
    # type: (Dict[str, Any]) -> None
    out = sys.__stdout__ or sys.stdout
    out.write(MARKER + json.dumps(obj, sort_keys=True, default=str) + "\n")
    out.flush()


def device_index(device):
    # type: (str) -> int
    return int(device.split(":", 1)[1]) if ":" in device else 0


def synchronize():
    # type: () -> None
    import torch

    if SETTINGS["device"].startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------------- stage 1: torch on the device


def stage_torch():
    # type: () -> Dict[str, Any]
    import torch

    device = SETTINGS["device"]
    data = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": device}
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("torch.cuda.is_available() is False")
        index = device_index(device)
        count = torch.cuda.device_count()
        if index >= count:
            raise RuntimeError("there is no %s: torch sees %d GPU(s)" % (device, count))
        torch.cuda.init()
        data["name"] = torch.cuda.get_device_name(index)
        data["capability"] = "%d.%d" % torch.cuda.get_device_capability(index)
        # TF32 would make the device result differ from the reference by design.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    generator = torch.Generator().manual_seed(SETTINGS["seed"])
    a = torch.randn(256, 256, generator=generator)
    b = torch.randn(256, 256, generator=generator)
    reference = a.double() @ b.double()
    result = (a.to(device) @ b.to(device)).cpu().double()
    error = float((result - reference).abs().max())
    data["matmul_max_abs_error"] = error
    data["tolerance"] = 1e-3
    if not error <= 1e-3:
        raise AssertionError(
            "matrix product on %s differs from the CPU reference by %g" % (device, error)
        )
    return data


# ---------------------------------------------------------------- stage 2: mmcv compiled ops


def reference_nms(boxes, scores, threshold):
    # type: (Any, Any, float) -> List[int]
    """Greedy NMS in plain Python, mmcv's convention (offset 0, suppress IoU > threshold)."""
    order = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    rows = boxes.tolist()
    keep = []  # type: List[int]
    for i in order:
        x1, y1, x2, y2 = rows[i]
        area_i = (x2 - x1) * (y2 - y1)
        suppressed = False
        for j in keep:
            a1, b1, a2, b2 = rows[j]
            w = max(0.0, min(x2, a2) - max(x1, a1))
            h = max(0.0, min(y2, b2) - max(y1, b1))
            inter = w * h
            union = area_i + (a2 - a1) * (b2 - b1) - inter
            if union > 0 and inter / union > threshold:
                suppressed = True
                break
        if not suppressed:
            keep.append(i)
    return keep


def _bilinear(feature, y, x, height, width):
    # type: (Any, float, float, int, int) -> Any
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return feature[:, 0, 0] * 0
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (
        hy * hx * feature[:, y_low, x_low]
        + hy * lx * feature[:, y_low, x_high]
        + ly * hx * feature[:, y_high, x_low]
        + ly * lx * feature[:, y_high, x_high]
    )


def reference_roi_align(features, rois, out_h, out_w, scale, sampling):
    # type: (Any, Any, int, int, float, int) -> Any
    """RoIAlign (average, aligned=True) written out as the papers describe it, in float64."""
    import torch

    _, channels, height, width = features.shape
    feats = features.double()
    out = torch.zeros(len(rois), channels, out_h, out_w, dtype=torch.float64)
    for r, roi in enumerate(rois.tolist()):
        fmap = feats[int(roi[0])]
        x1, y1 = roi[1] * scale - 0.5, roi[2] * scale - 0.5
        x2, y2 = roi[3] * scale - 0.5, roi[4] * scale - 0.5
        bin_h, bin_w = (y2 - y1) / out_h, (x2 - x1) / out_w
        grid_h = sampling if sampling > 0 else math.ceil((y2 - y1) / out_h)
        grid_w = sampling if sampling > 0 else math.ceil((x2 - x1) / out_w)
        count = max(grid_h * grid_w, 1)
        for ph in range(out_h):
            for pw in range(out_w):
                total = fmap[:, 0, 0] * 0
                for iy in range(grid_h):
                    y = y1 + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                    for ix in range(grid_w):
                        x = x1 + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        total = total + _bilinear(fmap, y, x, height, width)
                out[r, :, ph, pw] = total / count
    return out


def stage_ops():
    # type: () -> Dict[str, Any]
    import torch
    from mmcv.ops import nms, roi_align

    device = SETTINGS["device"]
    generator = torch.Generator().manual_seed(SETTINGS["seed"] + 1)
    corners = torch.rand(300, 2, generator=generator) * 200
    sizes = torch.rand(300, 2, generator=generator) * 60 + 4
    boxes = torch.cat([corners, corners + sizes], dim=1)
    scores = torch.rand(300, generator=generator)
    _, kept = nms(boxes.to(device), scores.to(device), 0.5)
    kept_list = kept.cpu().tolist()
    if device == "cpu":
        expected = reference_nms(boxes, scores, 0.5)
        against = "a plain-Python NMS"
    else:
        expected = nms(boxes, scores, 0.5)[1].tolist()
        against = "mmcv's CPU nms"
    if kept_list != expected:
        raise AssertionError(
            "nms on %s kept %d boxes, %s kept %d (first difference at %d)"
            % (
                device,
                len(kept_list),
                against,
                len(expected),
                _first_difference(kept_list, expected),
            )
        )
    features = torch.randn(2, 16, 40, 40, generator=generator)
    starts = torch.rand(12, 2, generator=generator) * 28
    extents = torch.rand(12, 2, generator=generator) * 10 + 1
    batch = torch.randint(0, 2, (12, 1), generator=generator).float()
    rois = torch.cat([batch, starts, starts + extents], dim=1)
    aligned = roi_align(features.to(device), rois.to(device), (7, 7), 1.0, 2, "avg", True).cpu()
    if device == "cpu":
        reference = reference_roi_align(features, rois, 7, 7, 1.0, 2)
        roi_against = "a plain-Python RoIAlign"
    else:
        reference = roi_align(features, rois, (7, 7), 1.0, 2, "avg", True).double()
        roi_against = "mmcv's CPU roi_align"
    error = float((aligned.double() - reference).abs().max())
    if not error <= 1e-4:
        raise AssertionError("roi_align on %s differs from %s by %g" % (device, roi_against, error))
    return {
        "nms_kept": len(kept_list),
        "nms_reference": against,
        "roi_align_max_abs_error": error,
        "roi_align_reference": roi_against,
        "tolerance": 1e-4,
        "seed": SETTINGS["seed"],
    }


def _first_difference(a, b):
    # type: (List[int], List[int]) -> int
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


# ---------------------------------------------------------------- stages 3-5: the detector


def stage_detector():
    # type: () -> Dict[str, Any]
    import mmdet
    from mmdet.apis import init_detector

    line = int(mmdet.__version__.split(".")[0])
    relative = SETTINGS["configs"][str(line)]
    config = os.path.join(os.path.dirname(mmdet.__file__), ".mim", "configs", relative)
    if not os.path.isfile(config):
        raise FileNotFoundError("mmdet %s has no config %s" % (mmdet.__version__, config))
    started = time.time()
    model = init_detector(config, SETTINGS["checkpoint"], device=SETTINGS["device"])
    model.eval()
    STATE["model"] = model
    STATE["line"] = line
    classes = _classes(model, line)
    STATE["classes"] = classes
    return {
        "mmdet": mmdet.__version__,
        "config": config,
        "checkpoint": SETTINGS["checkpoint"],
        "parameters": sum(int(p.numel()) for p in model.parameters()),
        "classes": len(classes),
        "seconds": round(time.time() - started, 3),
    }


def _classes(model, line):
    # type: (Any, int) -> List[str]
    if line >= 3:
        meta = getattr(model, "dataset_meta", None) or {}
        return list(meta.get("classes", ()))
    return list(getattr(model, "CLASSES", ()) or ())


def _detections(result):
    # type: (Any) -> List[Dict[str, Any]]
    classes = STATE["classes"]
    found = []  # type: List[Dict[str, Any]]
    if STATE["line"] >= 3:
        instances = result.pred_instances
        boxes = instances.bboxes.cpu().tolist()
        scores = instances.scores.cpu().tolist()
        labels = instances.labels.cpu().tolist()
        for box, score, label in zip(boxes, scores, labels):
            name = classes[label] if label < len(classes) else str(label)
            found.append({"class": name, "score": float(score), "box": [float(v) for v in box]})
    else:
        per_class = result[0] if isinstance(result, tuple) else result
        for label, rows in enumerate(per_class):
            for row in rows.tolist():
                name = classes[label] if label < len(classes) else str(label)
                found.append(
                    {"class": name, "score": float(row[4]), "box": [float(v) for v in row[:4]]}
                )
    found.sort(key=lambda d: -d["score"])
    return found


def stage_inference():
    # type: () -> Dict[str, Any]
    from mmdet.apis import inference_detector

    started = time.time()
    result = inference_detector(STATE["model"], SETTINGS["image"])
    synchronize()
    seconds = time.time() - started
    found = _detections(result)
    threshold = SETTINGS["score_thr"]
    shown = [d for d in found if d["score"] >= threshold][:100]
    data = {"detections": shown, "raw_count": len(found), "first_call_seconds": round(seconds, 3)}
    expect = SETTINGS.get("expect")
    if expect:
        hits = [
            d for d in found if d["class"] in expect["classes"] and d["score"] >= expect["score"]
        ]
        data["expected"] = expect
        if not hits:
            best = ", ".join("%s %.2f" % (d["class"], d["score"]) for d in found[:5]) or "nothing"
            raise AssertionError(
                "expected a %s above %.2f on the image; the model found: %s"
                % (" or ".join(expect["classes"]), expect["score"], best)
            )
    if SETTINGS.get("out"):
        data["out"] = draw(SETTINGS["image"], shown, SETTINGS["out"])
    return data


def draw(image, detections, out):
    # type: (str, List[Dict[str, Any]], str) -> str
    import cv2

    picture = cv2.imread(image)
    for d in detections:
        x1, y1, x2, y2 = [round(v) for v in d["box"]]
        cv2.rectangle(picture, (x1, y1), (x2, y2), (0, 200, 0), 2)
        label = "%s %.2f" % (d["class"], d["score"])
        cv2.putText(
            picture, label, (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 0), 1
        )
    if not cv2.imwrite(out, picture):
        raise IOError("could not write %s" % out)
    return out


def stage_timing():
    # type: () -> Dict[str, Any]
    import torch
    from mmdet.apis import inference_detector

    device = SETTINGS["device"]
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device_index(device))
    times = []  # type: List[float]
    for _ in range(SETTINGS["runs"]):
        started = time.perf_counter()
        inference_detector(STATE["model"], SETTINGS["image"])
        synchronize()
        times.append(time.perf_counter() - started)
    times.sort()
    median = times[len(times) // 2]
    data = {  # type: Dict[str, Any]
        "runs": len(times),
        "median_seconds": round(median, 4),
        "min_seconds": round(times[0], 4),
        "images_per_second": round(1.0 / median, 2) if median > 0 else None,
    }
    if device.startswith("cuda"):
        data["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(device_index(device)))
        data["peak_memory_of"] = "the GPU (torch allocator)"
    else:
        import resource

        data["peak_memory_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        data["peak_memory_of"] = "this process (max RSS)"
    return data


STAGES = [
    ("torch", stage_torch),
    ("ops", stage_ops),
    ("detector", stage_detector),
    ("inference", stage_inference),
    ("timing", stage_timing),
]  # type: List[Tuple[str, Callable[[], Dict[str, Any]]]]


def main():
    # type: () -> None
    for name, stage in STAGES:
        emit({"begin": name})
        started = time.time()
        record = {"step": name, "ok": False, "data": None, "error": None}  # type: Dict[str, Any]
        try:
            record["data"] = stage()
            record["ok"] = True
        except BaseException as exc:  # a failed stage is reported, never raised
            record["error"] = ("%s: %s" % (type(exc).__name__, exc))[:2000]
            record["traceback"] = "\n".join(traceback.format_exc().strip().splitlines()[-15:])
        record["seconds"] = round(time.time() - started, 3)
        emit(record)
        if not record["ok"]:
            break


main()
