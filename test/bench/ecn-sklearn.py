#!/usr/bin/python3
"""Reference fit of the ECN model's Gaussian mixtures with scikit-learn (SPEC 1.3).

Reads the samples exported by test/bench/ecn-export.ts (run first:
`node --import tsx test/bench/ecn-export.ts /tmp/ecn-bench`), fits
GaussianMixture(n_components=5, covariance_type="full", n_init=5, reg_covar=1e-6, tol=1e-3,
max_iter=100, init_params="kmeans") on the train part of S0 and S for AMZN and GOOG, and prints
one JSON object: test-set mean log-likelihood per sample, train lower bound and fit time, per
ticker, mixture and random_state. Needs /usr/bin/python3 with python3-sklearn.
"""
import json
import os
import sys
import time

import numpy as np
from sklearn.mixture import GaussianMixture

out_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ecn-bench"
seeds = [int(s) for s in os.environ.get("ECN_SKLEARN_SEEDS", "0,1,2").split(",")]
mixtures = os.environ.get("ECN_SKLEARN_MIXTURES", "S0,S").split(",")
results = {}
for ticker in ("AMZN", "GOOG"):
    for name in mixtures:
        train_path = os.path.join(out_dir, f"{ticker}_{name}_train.csv")
        if not os.path.exists(train_path):
            continue
        train = np.loadtxt(train_path, delimiter=",")
        test = np.loadtxt(os.path.join(out_dir, f"{ticker}_{name}_test.csv"), delimiter=",")
        runs = []
        for seed in seeds:
            gm = GaussianMixture(n_components=5, covariance_type="full", n_init=5, reg_covar=1e-6, tol=1e-3,
                                 max_iter=100, init_params="kmeans", random_state=seed)
            t0 = time.perf_counter()
            gm.fit(train)
            seconds = time.perf_counter() - t0
            runs.append({"seed": seed, "testLogLik": float(gm.score(test)), "trainLowerBound": float(gm.lower_bound_),
                         "converged": bool(gm.converged_), "iterations": int(gm.n_iter_), "fitSeconds": seconds})
        results[f"{ticker}_{name}"] = {
            "nTrain": int(train.shape[0]), "nTest": int(test.shape[0]), "dim": int(train.shape[1]),
            "runs": runs,
            "meanTestLogLik": float(np.mean([r["testLogLik"] for r in runs])),
            "meanFitSeconds": float(np.mean([r["fitSeconds"] for r in runs])),
        }
print(json.dumps({"sklearn": __import__("sklearn").__version__, "results": results}))
