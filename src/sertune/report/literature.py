"""Table 6 of the paper: test WA reported in the literature, as the paper cites it.

The numbers are copied from Table 6 of Mukhamediya, Fazli and Zollanvari (IEEE
Access 2023); the bracketed numbers are that paper's reference numbers. They
come from other protocols (splits, speaker dependence, class sets), so they
place a study's result, they do not rank it.
"""

from __future__ import annotations

#: The paper itself.
PAPER = ("A. Mukhamediya, S. Fazli and A. Zollanvari, \"On the effect of log-Mel spectrogram "
         "parameter tuning for deep learning-based speech emotion recognition,\" IEEE Access, 2023")

#: Full references of the works Table 6 cites, by the paper's reference number.
REFERENCES = {
    15: "B. Maji, M. Swain, M. Mustaqeem, Electronics 11(9):1328, 2022",
    28: "M. Xu, F. Zhang, W. Zhang, IEEE Access 9:74539-74549, 2021",
    29: "L. Tarantino, P. N. Garner, A. Lazaridis, Proc. Interspeech 2019, pp. 2578-2582",
    33: "F. Andayani, L. B. Theng, M. T. Tsun, C. Chua, IEEE Access 10:36018-36027, 2022",
    34: "S. Nagarajan et al., Digit. Signal Process. 104:102763, 2020",
    35: "S. Chen et al., Sensors 21(22):7530, 2021",
    36: "A. Nediyanchath, P. Paramasivam, P. Yenigalla, Proc. ICASSP 2020, pp. 7179-7183",
    37: "P. Yenigalla et al., Proc. Interspeech 2018, pp. 3688-3692",
    38: "P. Singh, R. Srivastava, K. P. S. Rana, V. Kumar, Knowl.-Based Syst. 229:107316, 2021",
    39: "E. Avots, T. Sapiński, M. Bachmann, D. Kamińska, Mach. Vis. Appl. 30(5):975-985, 2019",
    40: "Z.-T. Liu et al., Neurocomputing 309:145-156, 2018",
}

#: corpus -> rows (work, paper's reference number, year, test WA %, std % or None), in the paper's order.
LITERATURE = {
    "emodb": (
        ("Maji et al.", 15, 2022, 90.31, None),
        ("Andayani et al.", 33, 2022, 87.72, None),
        ("Nagarajan et al.", 34, 2020, 86.96, None),
        ("Chen et al.", 35, 2021, 85.42, None),
        ("Mukhamediya et al. (the paper: SqueezeNet, tuned LMS)", None, 2023, 88.22, 1.87),
    ),
    "iemocap": (
        ("Nediyanchath et al.", 36, 2020, 76.40, None),
        ("Xu et al.", 28, 2021, 76.18, None),
        ("Yenigalla et al.", 37, 2018, 73.90, None),
        ("Tarantino et al.", 29, 2019, 70.17, None),
        ("Mukhamediya et al. (the paper: SqueezeNet, tuned LMS)", None, 2023, 75.97, 1.40),
    ),
    "savee": (
        ("Singh et al.", 38, 2021, 81.70, None),
        ("Avots et al.", 39, 2019, 77.40, None),
        ("Nagarajan et al.", 34, 2020, 77.08, None),
        ("Liu et al.", 40, 2018, 76.40, None),
        ("Mukhamediya et al. (the paper: SqueezeNet, tuned LMS)", None, 2023, 79.00, 1.24),
    ),
}

#: The paper's Tables 3-5 for its three corpora (mean, std in %), to compare a replication with.
PAPER_RESULTS = {
    "emodb": {"val_wa_best": (88.99, 1.89), "val_wa_worst": (66.51, 6.15), "val_wa_usual": (69.78, 4.49),
              "test_wa_tuned": (88.22, 1.87), "test_wa_usual": (64.78, 4.12),
              "precision": (89.0, 2.0), "f1": (88.0, 2.0)},
    "iemocap": {"val_wa_best": (76.08, 0.91), "val_wa_worst": (67.93, 2.35), "val_wa_usual": (69.04, 1.01),
                "test_wa_tuned": (75.97, 1.40), "test_wa_usual": (65.31, 1.45),
                "precision": (76.0, 1.0), "f1": (76.0, 1.0)},
    "savee": {"val_wa_best": (79.00, 1.42), "val_wa_worst": (52.60, 4.03), "val_wa_usual": (65.50, 2.78),
              "test_wa_tuned": (79.00, 1.24), "test_wa_usual": (67.30, 2.45),
              "precision": (80.0, 1.0), "f1": (79.0, 1.0)},
}

#: The paper's setup (Section III and the authors' code), to label how a study differs from it.
PAPER_SETUP = {"protocol": "shuffle-split", "reps": 10, "epochs": 150, "batch_size": 16, "lr": 1e-4,
               "init": "scratch", "pruner": "none", "remainder": "drop", "grid_size": 511}
