"""``ccxt-mm sweep`` on the bundled recording: a 64-trial grid from one command, the best config
replaying to its figures, walk-forward scores, the same table from a real Dask cluster on
127.0.0.1, no trial lost when a worker is killed, Optuna reproducible from its seed, and a
sweep file's mistakes named before anything runs."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
from pathlib import Path

import pytest
import yaml

from ccxt_mm.cli import main
from ccxt_mm.config import load_config
from ccxt_mm.errors import CcxtMmError
from ccxt_mm.sweep.pools import DaskPool, LocalPool
from ccxt_mm.sweep.results import PLACE_COLUMNS, row
from ccxt_mm.sweep.search import Sweep, Trial, grid_points, run_points
from ccxt_mm.sweep.space import base_tree, load_sweep
from tests.conftest import BINANCE_FILES, ROOT

TIGHT = str(ROOT / "examples" / "binance_btcusdt_tight.yaml")
EXAMPLE = str(ROOT / "examples" / "sweep_tight.yaml")


def read_rows(out: Path) -> list[dict[str, str]]:
    with (out / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def without_place(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows without where and how long each trial ran."""
    return [{k: v for k, v in r.items() if k not in PLACE_COLUMNS} for r in rows]


def sweep_cli(*args: str) -> int:
    return main(["sweep", "--config", TIGHT, "--no-progress", *args])


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's 64-trial grid on two local workers."""
    out = tmp_path_factory.mktemp("sweep") / "local"
    assert sweep_cli("--grid", EXAMPLE, "--workers", "2", "--out", str(out)) == 0
    return out


@pytest.fixture(scope="module")
def cluster():
    from ccxt_mm_testkit.cluster import LoopbackCluster

    with LoopbackCluster(workers=2) as c:
        yield c


def test_a_64_trial_grid_runs_from_one_command(local_run: Path):
    rows = read_rows(local_run)
    assert len(rows) == 64 and {r["state"] for r in rows} == {"complete"}
    points = {(r["spread.min_spread_bps"], r["strategy.params.gamma"], r["strategy.params.levels"]) for r in rows}
    assert len(points) == 64
    import pyarrow.parquet as pq

    table = pq.read_table(local_run / "trials.parquet")
    assert table.num_rows == 64 and table.column_names == list(rows[0])
    assert table.column("pnl_total").to_pylist() == [float(r["pnl_total"]) for r in rows]
    assert (local_run / "objective.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_objective_fits_the_first_window_and_the_windows_add_up(local_run: Path):
    for r in read_rows(local_run):
        assert float(r["objective"]) == float(r["score.w0"])  # two windows: the first is fitted, the second held out
        assert float(r["score.w0"]) + float(r["score.w1"]) == pytest.approx(float(r["pnl_total"]), abs=1e-9)


def test_the_best_config_replays_to_the_reported_figure(local_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rows = read_rows(local_run)
    summary = json.loads((local_run / "sweep_summary.json").read_text())
    feasible = [r for r in rows if r["feasible"] == "True"]
    best = max(feasible, key=lambda r: (float(r["objective"]), -int(r["trial"])))
    assert summary["best"]["trial"] == int(best["trial"])
    capsys.readouterr()
    assert main(["replay", "--config", str(local_run / "best.yaml"), "--json", "--no-progress", "--report-dir", str(tmp_path)]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["pnl_total"] == float(best["pnl_total"]) and replayed["fills"] == int(best["fills"])
    config = yaml.safe_load((local_run / "best.yaml").read_text())
    assert config["spread"]["min_spread_bps"] == float(best["spread.min_spread_bps"])
    assert config["spread"]["cooldown_secs"] == 5.0  # the base config's own keys are kept


def test_walk_forward_reports_the_fitted_best_on_the_next_window(local_run: Path):
    rows = {int(r["trial"]): r for r in read_rows(local_run)}
    wf = json.loads((local_run / "sweep_summary.json").read_text())["walk_forward"]
    (fold,) = wf["folds"]
    feasible = [r for r in rows.values() if r["feasible"] == "True"]
    assert fold["best_trial"] == int(max(feasible, key=lambda r: (float(r["score.w0"]), -int(r["trial"])))["trial"])
    assert fold["test_score"] == float(rows[fold["best_trial"]]["score.w1"])
    assert fold["test_rank"] == 1 + sum(float(r["score.w1"]) > fold["test_score"] for r in feasible)
    assert wf["held_out"]["window"] == "w1" and wf["held_out"]["best_trial"] == fold["best_trial"]
    w0, w1 = wf["windows"]["w0"], wf["windows"]["w1"]  # the recording cut in two halves of its time
    assert (w0["start_utc"], w1["end_utc"]) == (rows[0]["span.start_utc"], rows[0]["span.end_utc"])
    assert w0["end_utc"] == w1["start_utc"] == "2024-08-08T23:59:39.311Z"


def test_the_loopback_cluster_gives_the_local_table(local_run: Path, cluster, tmp_path: Path):
    assert sweep_cli("--grid", EXAMPLE, "--cluster", cluster.address, "--out", str(tmp_path)) == 0
    assert without_place(read_rows(tmp_path)) == without_place(read_rows(local_run))
    assert (tmp_path / "best.yaml").read_text() == (local_run / "best.yaml").read_text()


def small_sweep(points: int) -> tuple[Sweep, list[dict]]:
    """The example sweep's first ``points`` grid points on the bundled recording."""
    spec = load_sweep(EXAMPLE)
    full = base_tree(load_config(TIGHT))
    full["market"]["data"] = BINANCE_FILES
    return Sweep(spec, full, [BINANCE_FILES]), grid_points(spec)[:points]


def test_a_worker_killed_mid_sweep_loses_no_trial(local_run: Path):
    from ccxt_mm_testkit.cluster import LoopbackCluster

    plan, points = small_sweep(12)
    done: list[dict] = []
    with LoopbackCluster(workers=2) as c:
        pool = DaskPool(c.address, BINANCE_FILES)

        def kill_after_three(outcome: dict) -> None:
            done.append(outcome)
            if len(done) == 3:
                c.kill_worker(1)

        try:
            trials = run_points(plan, points, pool, kill_after_three)
        finally:
            pool.close()
        assert c.workers[1].poll() is not None
    assert len(done) == 12 and all(t.state == "complete" for t in trials)
    local = without_place(read_rows(local_run))[:12]
    assert [{k: str(row(plan, t).get(k, "")) for k in local[0]} for t in trials] == local  # a figure a trial lacks is an empty cell


def test_a_cluster_left_without_workers_stops_the_sweep_with_an_error():
    from ccxt_mm_testkit.cluster import LoopbackCluster

    plan, points = small_sweep(6)
    with LoopbackCluster(workers=1) as c:
        pool = DaskPool(c.address, BINANCE_FILES, wait_secs=0.5, no_worker_secs=2.0)

        def kill_the_only_worker(outcome: dict) -> None:
            if c.workers[0].poll() is None:
                c.kill_worker(0)

        try:
            with pytest.raises(CcxtMmError, match=r"--cluster: no worker for 2 s with [1-5] tasks waiting"):
                run_points(plan, points, pool, kill_the_only_worker)
        finally:
            pool.close()


def kill_a_pool_process(done: list[dict], after: int):
    """``on_done`` that SIGKILLs one of this process's pool workers after ``after`` results."""
    import psutil

    def on_done(outcome: dict) -> None:
        done.append(outcome)
        if len(done) == after:
            workers = [p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline())]
            os.kill(workers[-1].pid, signal.SIGKILL)

    return on_done


def test_a_killed_local_worker_loses_no_trial(local_run: Path):
    plan, points = small_sweep(10)
    done: list[dict] = []
    pool = LocalPool(2)
    try:
        trials = run_points(plan, points, pool, kill_a_pool_process(done, 2))
    finally:
        pool.close()
    assert len(trials) == 10 and len(done) == 10 and all(t.state == "complete" for t in trials) and pool.restarts == 1
    local = without_place(read_rows(local_run))[:10]
    assert [{k: str(row(plan, t).get(k, "")) for k in local[0]} for t in trials] == local


def test_without_retries_a_killed_workers_trials_are_reported_failed():
    plan, points = small_sweep(8)
    plan = Sweep(plan.spec.model_copy(update={"search": plan.spec.search.model_copy(update={"retries": 0})}), plan.base, plan.recordings)
    pool = LocalPool(2)
    try:
        trials = run_points(plan, points, pool, kill_a_pool_process([], 2))
        again = run_points(plan, points[:2], pool, lambda _: None)  # the next batch runs on a new pool
    finally:
        pool.close()
    failed = [t for t in trials if t.state == "failed"]
    assert len(trials) == 8 and 1 <= len(failed) <= 2 and pool.restarts == 1  # only what was running in the pool
    assert all("BrokenProcessPool" in t.error for t in failed) and all(row(plan, t)["error"] for t in failed)
    assert all(math.isnan(row(plan, t)["objective"]) and not row(plan, t)["feasible"] for t in failed)
    assert [t.state for t in again] == ["complete", "complete"]


def test_a_trial_refused_in_its_worker_is_failed_with_its_error_not_retried():
    """A config error raised in a worker process comes back whole (not as a broken pool) and
    fails its trial at once: it would fail the same way again."""
    plan, points = small_sweep(2)
    bad = Trial(7, {**points[0], "strategy.params.levels": 2.5})  # what a range without a step would draw
    pool = LocalPool(2)
    try:
        (outcome,) = pool.run(plan.tasks([bad]), retries=2, on_done=lambda _: None)
    finally:
        pool.close()
    assert outcome["error"].startswith("ConfigError: trial 7: strategy.params.levels: expected a whole number")
    assert pool.restarts == 0


OPTUNA = {
    "space": {
        "spread.min_spread_bps": {"low": 0.5, "high": 6.0},
        "strategy.params.gamma": {"low": 0.005, "high": 0.5, "log": True},
        "strategy.params.model": {"values": ["glft", "avellaneda_stoikov"]},
    },
    "search": {"method": "optuna", "trials": 16, "seed": 3, "batch": 8, "prune": True},
    "objective": {"metric": "sharpe_per_minute"},
}


def test_optuna_is_reproducible_from_its_seed_and_prunes_on_the_first_recording(tmp_path: Path):
    grid = tmp_path / "optuna.yaml"
    grid.write_text(yaml.safe_dump(OPTUNA))
    both = ",".join(BINANCE_FILES)  # the bundled recording twice: two recordings to prune between
    runs = []
    for workers in ("1", "2"):
        out = tmp_path / workers
        assert sweep_cli("--grid", str(grid), "--data", both, both, "--workers", workers, "--out", str(out)) == 0
        runs.append(read_rows(out))
    assert without_place(runs[0]) == without_place(runs[1])
    states = [r["state"] for r in runs[0]]
    assert states[:8] == ["complete"] * 8 and "pruned" in states[8:]  # the first batch sets the median
    for r in runs[0]:
        assert 0.5 <= float(r["spread.min_spread_bps"]) <= 6.0 and 0.005 <= float(r["strategy.params.gamma"]) <= 0.5
        assert r["r0.pnl_total"] and (r["r1.pnl_total"] == "") == (r["state"] == "pruned")
        if r["state"] == "complete":  # the same recording twice: the same figures twice
            assert r["r0.pnl_total"] == r["r1.pnl_total"]


def test_optuna_gives_the_same_table_on_the_cluster(cluster, tmp_path: Path):
    grid = tmp_path / "optuna.yaml"
    grid.write_text(yaml.safe_dump({**OPTUNA, "search": {**OPTUNA["search"], "prune": False, "trials": 12, "batch": 4}}))
    runs = []
    for where in (["--workers", "2"], ["--cluster", cluster.address]):
        out = tmp_path / where[0].strip("-")
        assert sweep_cli("--grid", str(grid), *where, "--out", str(out)) == 0
        runs.append(without_place(read_rows(out)))
    assert runs[0] == runs[1] and len(runs[0]) == 12
    assert len({r["spread.min_spread_bps"] for r in runs[0]}) == 12  # the sampler's draws, not one point repeated


@pytest.mark.parametrize(
    ("space", "named"),
    [
        ({"spread.min_sprad_bps": {"values": [1.0]}}, "space.spread.min_sprad_bps: no key 'min_sprad_bps' in spread"),
        ({"spread": {"values": [1.0]}}, "space.spread: names a section"),
        ({"spread.min_spread_bps": {"low": 1.0, "high": 2.0}}, "space.spread.min_spread_bps: a grid needs values or a step"),
        ({"spread.min_spread_bps": {"values": [-1.0]}}, "space.spread.min_spread_bps = -1.0"),
        ({"strategy.params.gamma": {"low": 0.0, "high": 1.0, "step": 0.5}}, "space.strategy.params.gamma = 0.0"),
        ({"spread.min_spread_bps": {"low": 2.0, "high": 1.0}}, "space.spread.min_spread_bps: expected finite low <= high"),
        ({"spread.min_spread_bps": {"low": 1.0, "high": 2.0, "step": 0.3}}, "high must be low + a whole number of steps"),
        ({"live.poll_secs": {"values": [1.0]}}, "space.live.poll_secs: a replay does not read the live section"),
        ({"market.data": {"values": ["x.gz"]}}, "space.market.data: not searched: give recordings with --data"),
        ({"strategy.params.levels": {"low": 1, "high": 4}}, "space.strategy.params.levels = 2.5: strategy.params.levels: expected a whole"),
    ],
)
def test_a_bad_sweep_file_is_named_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str], space: dict, named: str):
    grid = tmp_path / "bad.yaml"
    grid.write_text(yaml.safe_dump({"space": space}))
    assert sweep_cli("--grid", str(grid), "--out", str(tmp_path / "out")) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_what_a_sweep_cannot_run_with_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    grid = tmp_path / "grid.yaml"
    grid.write_text(yaml.safe_dump({"space": {"spread.min_spread_bps": {"values": [1.0]}}, "search": {"prune": True}}))
    assert sweep_cli("--grid", str(grid)) == 2
    assert "search.prune: only an optuna search has it" in capsys.readouterr().err
    grid.write_text(yaml.safe_dump({"space": {"spread.min_spread_bps": {"values": [1.0]}}}))
    assert sweep_cli("--grid", str(grid), "--data", str(tmp_path / "missing.gz")) == 1
    assert "missing.gz" in capsys.readouterr().err
    config = tmp_path / "predicting.yaml"
    config.write_text(yaml.safe_dump({"llm": {"predictor": "imbalance"}}))
    assert main(["sweep", "--config", str(config), "--grid", str(grid), "--no-progress"]) == 2
    assert "llm.predictor: a sweep replays without predictions" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


def test_no_trial_within_the_constraints_is_said_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    grid = tmp_path / "strict.yaml"
    grid.write_text(yaml.safe_dump({"space": {"spread.min_spread_bps": {"values": [1.0, 2.0]}}, "constraints": {"min_fills": 100000}}))
    assert sweep_cli("--grid", str(grid), "--workers", "1", "--out", str(tmp_path)) == 1
    assert "no trial completed within the constraints" in capsys.readouterr().err
    assert len(read_rows(tmp_path)) == 2 and not (tmp_path / "best.yaml").exists()
    assert all(not math.isnan(float(r["objective"])) and r["feasible"] == "False" for r in read_rows(tmp_path))
