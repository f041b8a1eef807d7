"""Lead scoring: the calibrated probability that a CRM lead becomes a customer, per tenant.

Input: one row per lead (``LEAD_COLUMNS`` + feature columns computed in SQL by the pipeline from the
CRM and the touchpoints *before* the lead was created: nothing that happens after the lead leaks in).
Output: the rows of ``ml.lead_scores`` (INTERFACES.md §7.4) and ``ml.lead_model`` (one row per tenant:
how well the model ranks leads it never saw). Pure: frames in, frames out, seeded.

Method, per tenant (tenants never share a model: an agency's brands keep their data apart):

1. **Label.** ``converted = customer within label_window_days of becoming a lead``. Only leads created
   at least ``label_window_days`` before ``as_of`` have a known label: a lead from last week that has
   not bought yet may still buy, so recent leads are scored but never trained or tested on.
2. **Time-based split** of the labelled leads by creation time: the last ``test_days`` (at most
   ``max_test_share`` of the labelled span, for short histories) are the test set (the model is judged on leads later than everything it learnt from, as in production); of the
   earlier leads the last ``calibration_share`` calibrate, the rest train.
3. **Model.** scikit-learn ``HistGradientBoostingClassifier`` (native categorical splits for the
   channel features, no scaling needed, fast on 1e5 rows), then isotonic calibration on the
   calibration slice (``CalibratedClassifierCV`` over the frozen model), so a score of 0.3 means that
   about 30 % of such leads buy.
4. **Evaluation** on the test set: ROC AUC, lift of the top decile (conversion rate of the 10 %
   highest-scored leads / the test base rate), Brier score.
5. **Scores** for every lead of the tenant from the evaluated model; ``decile`` 1 = the top 10 %.

Cadence: ``fit_lead_models`` does steps 1-4 and returns the fitted ``LeadModel`` per tenant (the
weekly refit persists them); ``score_with_models`` does step 5 with stored models (the daily run).
``score_leads`` is both at once; scoring with the models it fitted gives exactly its scores.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

__all__ = [
    "LEAD_COLUMNS",
    "LEAD_MODEL_SCHEMA",
    "LEAD_SCORE_SCHEMA",
    "LeadModel",
    "LeadScoringResult",
    "LeadScoringSettings",
    "fit_lead_models",
    "lift_at",
    "score_leads",
    "score_with_models",
]

LEAD_COLUMNS = ("tenant_id", "contact_id", "created_at", "converted_at")
MODEL_NAME = "hgb_isotonic"

LEAD_SCORE_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "contact_id": pl.String(),
    "score": pl.Float64(),
    "decile": pl.Int64(),
    "scored_at": pl.Datetime("us"),
    "model_version": pl.String(),
}
LEAD_MODEL_SCHEMA: dict[str, pl.DataType] = {
    "tenant_id": pl.String(),
    "model_version": pl.String(),
    "status": pl.String(),  # ``ok`` or ``insufficient_data`` (then no scores and null metrics)
    "trained_at": pl.Datetime("us"),
    "cutoff": pl.Datetime("us"),  # test leads were created after this instant, training leads before
    "label_window_days": pl.Int64(),
    "n_train": pl.Int64(),
    "n_calibration": pl.Int64(),
    "n_test": pl.Int64(),
    "base_rate_test": pl.Float64(),
    "auc": pl.Float64(),
    "lift_top_decile": pl.Float64(),
    "brier": pl.Float64(),
}


@dataclass(frozen=True)
class LeadScoringSettings:
    """Settings (see the module doc)."""

    label_window_days: int = 30
    test_days: int = 90
    max_test_share: float = 0.3  # short histories: the test set is at most this share of the labelled span
    calibration_share: float = 0.25
    min_positives: int = 30  # per slice (train, calibration, test); fewer: no model for the tenant
    categorical: Sequence[str] = ("first_touch_channel", "lead_channel", "lead_form")
    numeric: Sequence[str] = (
        "sessions_before_lead",
        "pages_before_lead",
        "product_pages_before_lead",
        "paid_sessions_before_lead",
        "days_first_touch_to_lead",
        "lead_hour",
        "lead_weekday",
        "marketing_opt_in",
    )
    seed: int = 7

    def __post_init__(self) -> None:
        if self.label_window_days < 1 or self.test_days < 1:
            raise ValueError(
                f"label_window_days and test_days must be >= 1, got {self.label_window_days}, {self.test_days}"
            )
        if not 0.0 < self.max_test_share < 1.0:
            raise ValueError(f"max_test_share must be in (0, 1), got {self.max_test_share}")
        if not 0.0 < self.calibration_share < 1.0:
            raise ValueError(f"calibration_share must be in (0, 1), got {self.calibration_share}")


@dataclass(frozen=True)
class LeadScoringResult:
    scores: pl.DataFrame  # LEAD_SCORE_SCHEMA
    model: pl.DataFrame  # LEAD_MODEL_SCHEMA


@dataclass(frozen=True)
class LeadModel:
    """One tenant's fitted and calibrated model, with what scoring needs to rebuild its features."""

    tenant_id: str
    model_version: str
    trained_at: datetime  # the data's end (``as_of``) when it was fitted
    cutoff: datetime
    categories: dict[str, list[str]]  # categorical column -> the categories the model knows
    numeric: list[str]  # numeric columns the model uses, in order
    estimator: Any  # a fitted scikit-learn classifier with ``predict_proba``


def lift_at(y_true: np.ndarray, score: np.ndarray, share: float = 0.1) -> float:
    """Conversion rate of the top ``share`` by score over the overall rate (ties broken by order)."""
    y = np.asarray(y_true, dtype=np.float64)
    if y.size == 0 or y.mean() == 0.0:
        return float("nan")
    k = max(round(share * y.size), 1)
    top = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")[:k]
    return float(y[top].mean() / y.mean())


def score_leads(
    leads: pl.DataFrame, as_of: datetime, settings: LeadScoringSettings | None = None
) -> LeadScoringResult:
    """Train, calibrate, evaluate and score per tenant; see the module doc.

    ``leads``: ``LEAD_COLUMNS`` (``created_at``: when the contact became a lead, ``converted_at``:
    when it became a customer or null; naive UTC datetimes) and the settings' feature columns (a
    missing numeric feature column is treated as unknown, e.g. consent on a CRM without it).
    ``as_of``: the data's end; labels need ``label_window_days`` before it.
    """
    settings = settings or LeadScoringSettings()
    model, fitted = fit_lead_models(leads, as_of, settings)
    return LeadScoringResult(scores=score_with_models(leads, fitted, as_of, settings), model=model)


def fit_lead_models(
    leads: pl.DataFrame, as_of: datetime, settings: LeadScoringSettings | None = None
) -> tuple[pl.DataFrame, dict[str, LeadModel]]:
    """Steps 1-4 of the module doc per tenant: the ``LEAD_MODEL_SCHEMA`` rows (every tenant, with its
    status and hold-out metrics) and the fitted model of each tenant whose status is ``ok``."""
    settings = settings or LeadScoringSettings()
    frame = _clean(leads, settings)
    model_rows: list[dict[str, object]] = []
    fitted: dict[str, LeadModel] = {}
    for (tenant,), part in frame.partition_by("tenant_id", as_dict=True, maintain_order=True).items():
        model, row = _fit_tenant(str(tenant), part, as_of, settings)
        model_rows.append(row)
        if model is not None:
            fitted[model.tenant_id] = model
    return pl.DataFrame(model_rows, schema=LEAD_MODEL_SCHEMA), fitted


def score_with_models(
    leads: pl.DataFrame,
    models: Mapping[str, LeadModel],
    as_of: datetime,
    settings: LeadScoringSettings | None = None,
) -> pl.DataFrame:
    """Step 5: ``LEAD_SCORE_SCHEMA`` rows for every lead of each tenant that has a model in ``models``
    (tenant id -> model; leads of other tenants get no score), ``scored_at = as_of``. Categories the
    model never saw (a new channel) are scored as missing values."""
    settings = settings or LeadScoringSettings()
    frame = _clean(leads, settings)
    parts: list[pl.DataFrame] = []
    for (tenant,), part in frame.partition_by("tenant_id", as_dict=True, maintain_order=True).items():
        model = models.get(str(tenant))
        if model is None:
            continue
        if model.tenant_id != str(tenant):
            raise ValueError(f"lead model for tenant {tenant!r} was fitted for {model.tenant_id!r}")
        spec = _FeatureSpec(model.categories, model.numeric)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            score = model.estimator.predict_proba(_features(part, spec))[:, 1]
        parts.append(_score_frame(part, score, as_of, model.model_version))
    scores = pl.concat(parts) if parts else pl.DataFrame(schema=LEAD_SCORE_SCHEMA)
    return scores.sort("tenant_id", "contact_id")


def _clean(leads: pl.DataFrame, settings: LeadScoringSettings) -> pl.DataFrame:
    missing = [c for c in (*LEAD_COLUMNS, *settings.categorical) if c not in leads.columns]
    if missing:
        raise ValueError(f"leads frame is missing column(s) {missing}; it has {leads.columns}")
    frame = leads.with_columns(
        *[
            (pl.col(c) if c in leads.columns else pl.lit(None)).cast(pl.Float64).alias(c)
            for c in settings.numeric
        ],
        *[pl.col(c).cast(pl.String).fill_null("(none)") for c in settings.categorical],
        pl.col("tenant_id", "contact_id").cast(pl.String),
        pl.col("created_at", "converted_at").cast(pl.Datetime("us")),
    )
    bad = frame.filter(pl.any_horizontal(pl.col("tenant_id", "contact_id", "created_at").is_null()))
    if bad.height:
        raise ValueError(
            f"leads frame has {bad.height} row(s) with null tenant_id/contact_id/created_at, e.g. {bad.row(0)}"
        )
    dupes = frame.filter(pl.struct("tenant_id", "contact_id").is_duplicated())
    if dupes.height:
        raise ValueError(
            f"leads frame must have one row per (tenant_id, contact_id); {dupes.height} rows are duplicated"
        )
    return frame.sort("tenant_id", "created_at", "contact_id")


def _fit_tenant(
    tenant: str, part: pl.DataFrame, as_of: datetime, settings: LeadScoringSettings
) -> tuple[LeadModel | None, dict[str, object]]:
    window = timedelta(days=settings.label_window_days)
    label_end = as_of - window
    first = part["created_at"].min()
    span = max(label_end - first, timedelta(0)) if isinstance(first, datetime) else timedelta(0)
    cutoff = label_end - min(timedelta(days=settings.test_days), settings.max_test_share * span)
    version = f"{MODEL_NAME}:{cutoff.date().isoformat()}:w{settings.label_window_days}"
    labelled = part.filter(pl.col("created_at") <= label_end).with_columns(
        (pl.col("converted_at").is_not_null() & (pl.col("converted_at") - pl.col("created_at") <= window))
        .cast(pl.Int64)
        .alias("_label")
    )
    before = labelled.filter(pl.col("created_at") <= cutoff)
    test = labelled.filter(pl.col("created_at") > cutoff)
    n_cal = round(settings.calibration_share * before.height)
    train, calibration = before.head(before.height - n_cal), before.tail(n_cal)
    row: dict[str, object] = {
        "tenant_id": tenant,
        "model_version": version,
        "trained_at": as_of,
        "cutoff": cutoff,
        "label_window_days": settings.label_window_days,
        "n_train": train.height,
        "n_calibration": calibration.height,
        "n_test": test.height,
        "base_rate_test": float(test["_label"].mean()) if test.height else None,  # type: ignore[arg-type]
    }
    slices = (train, calibration, test)
    if any(
        int(s["_label"].sum()) < settings.min_positives or int((1 - s["_label"]).sum()) < 1 for s in slices
    ):
        return None, row | {
            "status": "insufficient_data",
            "auc": None,
            "lift_top_decile": None,
            "brier": None,
        }

    from sklearn.metrics import brier_score_loss, roc_auc_score

    categories = {c: sorted(part[c].unique().to_list()) for c in settings.categorical}
    # a feature nobody has (e.g. consent on a CRM without it) carries no information: left out
    numeric = [c for c in settings.numeric if part[c].null_count() < part.height]
    spec = _FeatureSpec(categories, numeric)
    from threadpoolctl import threadpool_limits

    # one OpenMP thread: on a shared 2-core machine the booster's threads mostly wait on each other
    with threadpool_limits(1):
        model = _fit(train, calibration, settings, spec)
        p_test = model.predict_proba(_features(test, spec))[:, 1]
    y_test = test["_label"].to_numpy()
    row |= {
        "status": "ok",
        "auc": float(roc_auc_score(y_test, p_test)),
        "lift_top_decile": lift_at(y_test, p_test, 0.1),
        "brier": float(brier_score_loss(y_test, p_test)),
    }
    fitted = LeadModel(tenant, version, as_of, cutoff, categories, numeric, model)
    return fitted, row


def _score_frame(part: pl.DataFrame, score: np.ndarray, as_of: datetime, version: str) -> pl.DataFrame:
    scores = (
        part.select("tenant_id", "contact_id")
        .with_columns(pl.Series("score", score, dtype=pl.Float64))
        .with_columns(
            # decile 1 = the top 10 %: rank by score, ties by contact id (deterministic)
            ((pl.struct(-pl.col("score"), "contact_id").rank("ordinal") - 1) * 10 // pl.len() + 1)
            .cast(pl.Int64)
            .alias("decile"),
            pl.lit(as_of).cast(pl.Datetime("us")).alias("scored_at"),
            pl.lit(version).alias("model_version"),
        )
    )
    return scores.select(list(LEAD_SCORE_SCHEMA))


@dataclass(frozen=True)
class _FeatureSpec:
    categories: dict[str, list[str]]  # categorical column -> its categories (one list per tenant)
    numeric: list[str]


def _features(frame: pl.DataFrame, spec: _FeatureSpec):
    """A pandas frame for scikit-learn; categoricals share one category list per tenant, so the same
    channel has the same code in every slice."""
    import pandas as pd

    data = {c: pd.Categorical(frame[c].to_list(), categories=cats) for c, cats in spec.categories.items()}
    data |= {c: frame[c].to_numpy() for c in spec.numeric}
    return pd.DataFrame(data, columns=[*spec.categories, *spec.numeric])


def _fit(
    train: pl.DataFrame,
    calibration: pl.DataFrame,
    settings: LeadScoringSettings,
    spec: _FeatureSpec,
):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.frozen import FrozenEstimator

    x_train = _features(train, spec)
    booster = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=200,
        max_leaf_nodes=15,
        min_samples_leaf=50,
        l2_regularization=1.0,
        categorical_features="from_dtype",
        early_stopping=False,
        random_state=settings.seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        booster.fit(x_train, train["_label"].to_numpy())
        calibrated = CalibratedClassifierCV(FrozenEstimator(booster), method="isotonic")
        calibrated.fit(_features(calibration, spec), calibration["_label"].to_numpy())
    return calibrated
