"""Output folders that never overwrite results, and JSON written whole with numpy numbers and paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sertune.errors import ConfigError
from sertune.outputs import check_out_dir, write_json


def test_check_out_dir_creates_a_new_folder(tmp_path):
    out = check_out_dir(tmp_path / "a" / "b")
    assert out.is_dir() and out == tmp_path / "a" / "b"
    assert check_out_dir(out) == out  # an empty folder is fine


def test_check_out_dir_refuses_results_and_files(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(ConfigError, match="already holds results"):
        check_out_dir(tmp_path)
    assert check_out_dir(tmp_path, marker="search.json") == tmp_path
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        check_out_dir(tmp_path / "file")


def test_write_json_numpy_and_paths_and_no_temporary_left(tmp_path):
    path = tmp_path / "doc.json"
    write_json(path, {"n": np.int64(3), "x": np.float32(0.5), "p": Path("a/b")})
    assert json.loads(path.read_text()) == {"n": 3, "x": 0.5, "p": "a/b"}
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_write_json_refuses_what_json_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="not JSON serialisable"):
        write_json(tmp_path / "doc.json", {"s": {1, 2}})
    assert not (tmp_path / "doc.json").exists()
