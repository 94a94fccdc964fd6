#!/usr/bin/env python3
"""Reference models for `ops/bench predictive`.

Reads the feature rows segmentd trained on (user_index, holdout, label, then
the features in segmentd's order), trains scikit-learn's LogisticRegression
(standardised features, C=1: the same penalty as segmentd's model) and
HistGradientBoostingClassifier (defaults) on the rows segmentd trained on, and
prints their AUC on segmentd's holdout rows as JSON.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    holdout = data[:, 1] == 1
    labels = data[:, 2].astype(int)
    features = data[:, 3:]
    train_x, train_y = features[~holdout], labels[~holdout]
    test_x, test_y = features[holdout], labels[holdout]

    logistic = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=5000))
    logistic.fit(train_x, train_y)
    boosting = HistGradientBoostingClassifier(random_state=0)
    boosting.fit(train_x, train_y)
    print(json.dumps({
        "logistic_regression_auc": roc_auc_score(test_y, logistic.predict_proba(test_x)[:, 1]),
        "hist_gradient_boosting_auc": roc_auc_score(test_y, boosting.predict_proba(test_x)[:, 1]),
        "train_rows": int((~holdout).sum()),
        "holdout_rows": int(holdout.sum()),
        "versions": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}",
    }))


if __name__ == "__main__":
    main(sys.argv[1])
