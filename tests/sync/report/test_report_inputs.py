"""The project frame joined with stored features becomes the audit's per-file table."""

import pandas as pd
from PIL import Image
from skimage import data

from analysis.audit import audit
from sync.report.inputs import NOT_MEASURED, project_table
from winnow.features.measure import measure_image


def test_project_table_marks_unmeasured_tasks_and_joins_labels() -> None:
    m = measure_image(Image.fromarray(data.chelsea())).as_dict()
    images = pd.DataFrame(
        [
            {
                "sha256": "a",
                "n_bytes": 10,
                "format": "JPEG",
                "width": 451,
                "height": 300,
                "mode": "RGB",
                "has_exif": 0,
                "exif_orientation": None,
                "has_alpha": 0,
                "n_frames": 1,
                "error_kind": None,
                "error": None,
                **m,
                "computed_at": 1.0,
            }
        ]
    )
    frame = pd.DataFrame(
        {
            "task_id": [1, 2, 3],
            "image": ["/data/upload/1/a.jpg", "/data/upload/1/b.jpg", "/data/upload/1/c.jpg"],
            "sha256": ["a", "b", None],
            "labels": [["cat"], ["dog", "cat"], []],
            "split": ["train", None, None],
        }
    )
    table = project_table(frame, images)
    assert list(table["label"].fillna("-")) == ["cat", "cat+dog", "-"]
    assert list(table["error_kind"].fillna("")) == ["", NOT_MEASURED, NOT_MEASURED]
    assert table.loc[0, "width"] == 451
    result = audit(table)
    assert set(result.issues.loc[result.issues["issue_type"] == "unreadable", "path"]) == {
        "/data/upload/1/b.jpg",
        "/data/upload/1/c.jpg",
    }
