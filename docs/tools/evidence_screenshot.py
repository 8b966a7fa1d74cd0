"""The evidence panel in Label Studio's labelling view, for the docs and the Chromium test.

Builds a small project of real photos (Tux Paint animal stamps) with planted problems (a
wrong label, a JPEG copy, a blurred photo), syncs it with the review control and the evidence
panel, logs in as the admin and renders a flagged task's labelling page in headless Chromium.

    python docs/tools/evidence_screenshot.py --ls-venv <label-studio virtualenv> \
        [--template <migrated Label Studio data folder>] --out docs/images/evidence-panel.png

starts its own Label Studio on 127.0.0.1 in a temporary folder and stops it at the end
(`make test` keeps a migrated template under the cache folder; with it the start takes
seconds instead of a minute).
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
import uuid
from pathlib import Path

from label_studio_sdk import LabelStudio as LSClient
from PIL import Image, ImageFilter
from pydantic import SecretStr

from winnow.config import ImageIOSettings, LabelStudioSettings, Settings, get_settings
from winnow.labelstudio.label_config import build_label_config
from winnow.services import LabelStudio
from winnow.services.browser import HeadlessBrowser

STAMPS = Path("/usr/share/tuxpaint/stamps/animals")
CLASSES = {"birds": "bird", "fish": "fish", "insects": "insect", "mammals": "mammal"}
PER_CLASS = 10
WRONG = {"bird_01.png": "fish"}  # the planted label issue: a bird labelled fish
PANEL = ".winnow-evidence"


def _ls_screenshot():
    """docs/tools/ls_screenshot.py (its form login), loaded by path: docs/tools is no package."""
    path = Path(__file__).with_name("ls_screenshot.py")
    spec = importlib.util.spec_from_file_location("ls_screenshot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_images(folder: Path) -> dict[str, str]:
    """Real stamps flattened on grey (file -> true label), a JPEG copy and a blurred photo."""
    labels: dict[str, str] = {}
    for sub, label in CLASSES.items():
        paths = sorted(p for p in (STAMPS / sub).rglob("*.png") if "_mirror" not in p.stem)
        for i, path in enumerate([p for p in paths if "_thumb" not in p.stem][:PER_CLASS]):
            stamp = Image.open(path).convert("RGBA")
            stamp.thumbnail((256, 256))
            canvas = Image.new("RGB", stamp.size, (128, 128, 128))
            canvas.paste(stamp, mask=stamp.split()[3])
            name = f"{label}_{i:02d}.png"
            if name == "mammal_05.png":
                canvas, name = canvas.filter(ImageFilter.GaussianBlur(6)), "blurred.png"
            canvas.save(folder / name)
            labels[name] = label
    Image.open(folder / "insect_03.png").save(folder / "insect_copy.jpg", quality=80)
    labels["insect_copy.jpg"] = "insect"
    return labels


def make_project(ls: LabelStudio, folder: Path, labels: dict[str, str]) -> dict[str, int]:
    """A project of ``labels`` (with :data:`WRONG` given instead); returns file -> task id
    and the project id under ``"project"``."""
    client = LSClient(base_url=ls.url, api_key=ls.api_key)
    config = build_label_config(sorted(set(CLASSES.values())))
    project = client.projects.create(title=f"evidence {uuid.uuid4().hex[:6]}", label_config=config)
    client.import_storage.local.create(project=project.id, path=str(folder), use_blob_urls=True)
    rel = folder.relative_to(ls.files_root).as_posix()
    tasks = []
    for name, label in sorted(labels.items()):
        choice = {"choices": [WRONG.get(name, label)]}
        result = [{"from_name": "label", "to_name": "image", "type": "choices", "value": choice}]
        data = {"image": f"/data/local-files/?d={rel}/{name}", "name": name}
        tasks.append({"data": data, "annotations": [{"result": result}]})
    client.projects.import_tasks(id=project.id, request=tasks, commit_to_project=True)
    listed = client.tasks.list(project=project.id, fields="all")
    return {"project": project.id, **{t.data["name"]: t.id for t in listed}}


def sync_settings(data_dir: Path, ls: LabelStudio) -> Settings:
    return get_settings(
        data_dir=data_dir,
        label_studio=LabelStudioSettings(url=ls.url, api_key=SecretStr(ls.api_key)),
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=1, http_timeout_s=10),
        features={"workers": 0},
    )


def sync_with_panel(settings: Settings, ls: LabelStudio, project: int):
    """What ``winnow sync --add-review-control`` does: the panel into the config, then a sync."""
    from sync.review.job import run_sync
    from sync.review.review_control import ensure_review_control

    client = LSClient(base_url=ls.url, api_key=ls.api_key)
    ensure_review_control(client, project, to_name="image")
    return run_sync(settings, project)


def render_tasks(
    ls: LabelStudio, project: int, needles: dict[int, str], *, shot: tuple[int, Path] | None = None
) -> dict[int, str]:
    """Open each task's labelling view as the logged-in admin, wait until its panel shows
    ``needles[task]`` (ServiceError if it never does) and return the panels' text per task;
    ``shot``: (task, PNG path) to save that page, scrolled to the panel."""
    cookies = _ls_screenshot().login(ls.url, ls.username, ls.password)
    texts = {}
    with HeadlessBrowser(size=(1400, 900), timeout_s=90) as browser:
        for task, needle in needles.items():
            browser.call("Page.navigate", url="about:blank")  # no text of the last task
            browser.open(f"{ls.url}/projects/{project}/data?task={task}", cookies=cookies)
            texts[task] = browser.wait_for_text(
                "Why Winnow flagged this task", needle, timeout_s=90, selector=PANEL
            )
            if shot is not None and shot[0] == task:
                time.sleep(2.0)  # thumbnails
                browser.evaluate(
                    f"document.querySelector('{PANEL}').scrollIntoView({{block: 'center'}})"
                )
                time.sleep(0.5)
                browser.screenshot(shot[1])
    return texts


def shrink(png: Path, *, width: int = 1100) -> None:
    """Keep the docs image small: at most ``width`` pixels wide, a 256-colour PNG."""
    image = Image.open(png).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ls-venv", type=Path, required=True, help="Label Studio virtualenv")
    parser.add_argument("--template", type=Path, help="a migrated Label Studio data folder")
    parser.add_argument("--out", type=Path, default=Path("docs/images/evidence-panel.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="winnow-evidence-") as tmp:
        root = Path(tmp)
        files = root / "files"
        (files / "animals").mkdir(parents=True)
        labels = build_images(files / "animals")
        ls = LabelStudio(
            root / "ls", venv=args.ls_venv, files_root=files, template=args.template
        ).start()
        try:
            ids = make_project(ls, files / "animals", labels)
            sync_with_panel(sync_settings(root / "winnow", ls), ls, ids["project"])
            task = ids["bird_01.png"]
            texts = render_tasks(
                ls, ids["project"], {task: "suggested label"}, shot=(task, args.out)
            )
            print(texts[task])
        finally:
            ls.stop()
    shrink(args.out)
    print(f"saved {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
