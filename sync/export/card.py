"""``DATASET_CARD.md``: what a person needs before training on, or publishing, the data.

Every number is computed from the exported manifest, the exclusions and the records, so the
card cannot drift from the data: sources and licences, collection dates, counts per class and
split, per-split image statistics, the cleaning log, leakage checks re-run on the exported
splits, computed limitations, PII handling, the rebuild command and the changelog.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analysis.duplicates import split_leakage
from analysis.splits import label_prevalence_deviation, split_distributions
from sync.export.card_checks import limitations, source_of
from sync.export.changelog import Changelog, manifest_labels

QUALITY_COLUMNS = ("blur", "brightness", "entropy")


@dataclass
class CardInput:
    title: str
    version: str
    kind: str
    created_at: str
    manifest: pd.DataFrame  # what was exported (manifest_frame)
    exclusions: pd.DataFrame  # what was left out, with reasons
    records: pd.DataFrame  # every record considered (normalised), with its open flags
    fractions: dict[str, float]
    seed: int
    exclude_flags: list[str]
    rebuild: str
    changelog: Changelog
    measurements: pd.DataFrame | None = None  # per sha256: blur, brightness, ... (optional)


def render_card(card: CardInput) -> str:
    parts = [
        f"# {card.title} — version {card.version}\n",
        f"{card.kind.replace('_', '-')} data set of {len(card.manifest)} images exported on "
        f"{card.created_at} ({len(card.exclusions)} records left out, listed in "
        "`exclusions.csv`).\n",
        _sources(card),
        _dates(card),
        _counts(card),
        label_sets_section(card),
        _distributions(card),
        _cleaning(card),
        _leakage(card),
        _limits(card),
        _pii(card),
        _rebuild(card),
        _changes(card.changelog),
    ]
    return "\n".join(parts)


def _table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([header, rule, *rows]) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _sources(card: CardInput) -> str:
    m = card.manifest
    licence = m["licence"].fillna("(none recorded)")
    table = pd.DataFrame({"source": m["source"].map(source_of), "licence": licence})
    counts = table.value_counts().rename("images").reset_index()
    missing = int(m["licence"].isna().sum())
    share = missing / max(len(m), 1)
    note = (
        f"\n**{missing} images ({share:.0%}) have no recorded licence**; check them "
        "before publishing.\n"
        if missing
        else "\nEvery image has a licence.\n"
    )
    return "## Sources and licences\n\nFrom the import provenance.\n\n" + _table(counts) + note


def _dates(card: CardInput) -> str:
    dates = pd.to_datetime(card.manifest["collected_at"], errors="coerce", utc=True, format="mixed")
    known = dates.dropna()
    if known.empty:
        return "## Collection dates\n\nNo collection dates were recorded.\n"
    return (
        f"## Collection dates\n\nFrom {known.min():%Y-%m-%d} to {known.max():%Y-%m-%d}; "
        f"{len(dates) - len(known)} images have no date.\n"
    )


def class_split_counts(manifest: pd.DataFrame) -> pd.DataFrame:
    labels = manifest_labels(manifest)
    frame = pd.DataFrame({"label": labels.to_numpy(), "split": manifest["split"].to_numpy()})
    exploded = frame.explode("label").fillna({"label": "(none)"})
    counts = exploded.groupby(["label", "split"]).size().unstack(fill_value=0)
    counts["total"] = counts.sum(axis=1)
    return counts.sort_values("total", ascending=False)


def _counts(card: CardInput) -> str:
    counts = class_split_counts(card.manifest).reset_index()
    splits = card.manifest["split"].value_counts()
    n = max(len(card.manifest), 1)
    shares = ", ".join(
        f"{s} {splits.get(s, 0)} ({splits.get(s, 0) / n:.1%}, target {f:.0%})"
        for s, f in card.fractions.items()
    )
    return (
        f"## Counts per class and split\n\nSplits: {shares}. Seed {card.seed}; groups of "
        "near-duplicates (and any group-by field) never straddle splits.\n\n" + _table(counts)
    )


def label_sets_section(card: CardInput) -> str:
    """Multi-label only: labels per image per split, the commonest label sets and pairs, and
    how far each split's per-label prevalence strays from the whole set's."""
    if card.kind != "multi_label":
        return ""
    sets = manifest_labels(card.manifest).tolist()
    split = card.manifest["split"].astype(str).to_numpy()
    sizes = pd.DataFrame({"labels per image": [len(x) for x in sets], "split": split})
    cardinality = sizes.groupby(["labels per image", "split"]).size().unstack(fill_value=0)
    keys = pd.Series([" + ".join(x) or "(none)" for x in sets])
    common = keys.value_counts().head(10).rename_axis("label set").rename("images")
    pairs = pd.Series([f"{a} + {b}" for x in sets for i, a in enumerate(x) for b in x[i + 1 :]])
    top_pairs = pairs.value_counts().head(10).rename_axis("pair").rename("images")
    gaps = label_prevalence_deviation(split, sets).abs()
    worst = f"{gaps.max().max():.3f} ({gaps.max().idxmax()})" if gaps.size else "0"
    mean = sizes["labels per image"].mean() if len(sizes) else 0.0
    return (
        f"## Label sets\n\nEach image carries a set of labels: {mean:.2f} per image on "
        f"average, {keys.nunique()} distinct sets. The manifest's `labels` column holds each "
        "set as a list. Splits are stratified per label; the largest gap between a label's "
        f"share of a split and its share of the whole set is {worst}.\n\n"
        + _table(cardinality.reset_index())
        + "\nCommonest label sets:\n\n"
        + _table(common.reset_index())
        + ("\nCommonest label pairs:\n\n" + _table(top_pairs.reset_index()) if len(pairs) else "")
    )


def _distributions(card: CardInput) -> str:
    m = card.manifest
    quality = {}
    if card.measurements is not None and not card.measurements.empty:
        measured = card.measurements.drop_duplicates("sha256").set_index("sha256")
        for column in QUALITY_COLUMNS:
            if column in measured.columns:
                quality[column] = m["sha256"].map(measured[column]).astype(float).to_numpy()
    table = split_distributions(
        m["split"],
        width=m["width"].astype(float),
        height=m["height"].astype(float),
        quality=quality,
    )
    return (
        "## Image statistics per split\n\nAspect ratio is width / height; quality "
        "columns are medians of the stored measurements.\n\n" + _table(table.reset_index())
    )


def _cleaning(card: CardInput) -> str:
    flags = card.records["flags"].explode().dropna()
    found = flags.value_counts()
    reasons = card.exclusions["reason"].value_counts()
    rows = []
    for flag, n in found.items():
        action = "excluded" if flag in card.exclude_flags else "kept; listed in `flags`"
        rows.append({"finding": flag, "records": int(n), "action": action})
    log = _table(pd.DataFrame(rows)) if rows else "No open findings.\n"
    left = (
        _table(reasons.rename("records").rename_axis("reason").reset_index())
        if len(reasons)
        else "Nothing was left out.\n"
    )
    return (
        "## Cleaning log\n\nOpen audit findings on the records, and what the export did "
        "with them:\n\n" + log + "\nRecords left out, by reason:\n\n" + left
    )


def leakage_counts(manifest: pd.DataFrame) -> dict[str, int]:
    """Items in a group that spans splits, and contents present in more than one split."""
    group = pd.factorize(manifest["group"].fillna(manifest["sha256"]))[0]
    leaked = split_leakage(group, manifest["split"].to_numpy(object))
    content = manifest.groupby("sha256")["split"].nunique()
    return {"group_leaks": int(leaked.sum()), "content_leaks": int((content > 1).sum())}


def _leakage(card: CardInput) -> str:
    counts = leakage_counts(card.manifest)
    status = "passed" if not any(counts.values()) else "FAILED"
    return (
        f"## Leakage checks ({status})\n\nRe-run on the exported splits: "
        f"{counts['group_leaks']} images belong to a near-duplicate group that spans "
        f"splits; {counts['content_leaks']} identical contents appear in more than one "
        "split.\n"
    )


def _limits(card: CardInput) -> str:
    found = limitations(card.manifest, class_split_counts(card.manifest), card.fractions)
    body = "".join(f"- {line}\n" for line in found) or "- None detected by the checks.\n"
    return "## Known limitations and biases\n\nComputed from the data:\n\n" + body


def _pii(card: CardInput) -> str:
    flagged = card.records[[("pii" in f) for f in card.records["flags"]]]
    exported = int(sum("pii" in f for f in card.manifest["flags"]))
    if "pii" in card.exclude_flags:
        policy = "Images with an open PII finding are excluded (`pii` is in exclude_flags)."
    else:
        policy = (
            "Images with an open PII finding are exported with `pii` in their `flags`; "
            "add `pii` to export.exclude_flags to leave them out."
        )
    return (
        f"## PII handling\n\n{policy} Open PII findings on records: {len(flagged)}; in "
        f"this export: {exported}. Images without a finding were not necessarily checked "
        "for faces, names or plates unless the detection audit ran.\n"
    )


def _rebuild(card: CardInput) -> str:
    return f"## Rebuild\n\n```\n{card.rebuild}\n```\n"


def _changes(log: Changelog) -> str:
    if log.previous is None:
        return f"## Changelog\n\nFirst version: {len(log.added)} images.\n"
    lines = [
        f"## Changelog (against {log.previous})\n",
        f"- added: {len(log.added)}",
        f"- removed: {len(log.removed)}",
        f"- relabelled: {len(log.relabelled)}",
        f"- moved between splits: {len(log.moved)}",
    ]
    for sha, old, new in log.relabelled[:20]:
        lines.append(f"  - `{sha[:12]}`: {', '.join(old) or '-'} -> {', '.join(new) or '-'}")
    return "\n".join(lines) + "\n"
