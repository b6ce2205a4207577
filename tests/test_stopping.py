"""Per-start convergence stopping of the iterative solvers (prbench.solvers.Stopping):
the test itself on hand-made residual sequences, converged starts leaving the batch
(fewer FFT rows), and a batch giving each image's result alone."""

from __future__ import annotations

import pytest
import torch

from prbench.geometry import Geometry
from prbench.physics import forward, pad
from prbench.solvers import SOLVERS, STOP_REASONS, Stopping, support
from prbench.solvers._common import Convergence
from synthetic_objects import blob_objects

G = Geometry(n=36, m=72)
ITERS, LOG_EVERY = 60, 10
#: Every solver with a stopping test, with small budgets (checks every 10 iterations;
#: ALM with L-BFGS subproblems after each of its outer iterations).
SHRINKWRAP = ("hio_sw", "raar_sw", "dm_sw")
PARAMS = {name: dict(iters=ITERS, er_iters=4, log_every=LOG_EVERY)
          for name in ("hio", "raar", "dm", *SHRINKWRAP)}
#: Shrink-wrap updates at every check, with a fixed smoothing (a converged start's
#: support is then a fixed point of the update).
for name in SHRINKWRAP:
    PARAMS[name].update(update_every=LOG_EVERY, sigma_start=1.0, sigma_end=1.0)
PARAMS["alm"] = dict(iters=ITERS, log_every=LOG_EVERY)
PARAMS["alm_lbfgs"] = dict(outer_iters=4, inner_iters=LOG_EVERY)


@pytest.fixture(scope="module")
def objects():
    """Three 36 x 36 blob objects, their measurements and tight supports."""
    x = blob_objects(3, seed=3, n=G.n)
    return x, forward(x, G.m), pad(x != 0, G.m)


def test_stopping_test_on_known_residual_sequences():
    """Window 20 at checks every 10 iterations: compare with 2 checks ago. Row 0 is flat
    (stalls at the third check), row 1 halves every check (never stalls; reaches the
    floor 1e-3 at 0.5^10, iteration 100), row 2 dips once then rises (its best, 0.5,
    is not beaten within the window: stalls at the fourth check)."""
    sequences = torch.tensor([[1.0] * 12,
                              [0.5 ** k for k in range(1, 13)],
                              [1.0, 0.5, 2.0, 2.0] + [2.0] * 8])
    convergence = Convergence(3, Stopping(tol=0.1, window=20, floor=1e-3), 10,
                              torch.device("cpu"))
    for k in range(12):
        going = convergence.check(10 * (k + 1), sequences[convergence.active, k])
        assert going.shape == (len(going),)
        if not convergence.active.numel():
            break
    assert convergence.stopped_at.tolist() == [30, 100, 40]
    reasons = [STOP_REASONS[int(r)] for r in convergence.reason]
    assert reasons == ["stalled", "floor", "stalled"]
    history = torch.stack(convergence.history, dim=1)
    assert torch.equal(history[0, 3:], torch.ones(7))  # frozen after its stop at check 3
    assert convergence.iterations(500).tolist() == [30, 100, 40]


def test_floor_alone_never_stalls():
    """Without a window only the floor stops a start, however flat its residual."""
    convergence = Convergence(2, Stopping(floor=1e-3), 10, torch.device("cpu"))
    for t in range(10, 210, 10):
        convergence.check(t, torch.tensor([0.5, 1e-4])[convergence.active])
    assert convergence.stopped_at.tolist() == [-1, 10]
    assert [STOP_REASONS[int(r)] for r in convergence.reason] == ["budget", "floor"]


def test_no_stopping_runs_the_budget():
    convergence = Convergence(2, None, 10, torch.device("cpu"))
    for t in (10, 20):
        assert convergence.check(t, torch.zeros(2)).all()
    assert convergence.iterations(20).tolist() == [20, 20]
    assert convergence.reason.tolist() == [0, 0]


@pytest.mark.parametrize("field, value", [("tol", 1.0), ("tol", -0.1), ("window", 0),
                                          ("window", 2.5), ("floor", -1.0)])
def test_stopping_rejects_bad_settings(field, value):
    settings = dict(tol=0.01, window=100, floor=1e-6) | {field: value}
    with pytest.raises(ValueError, match=f"stopping {field}"):
        Stopping(**settings)


def _count_fft_rows(monkeypatch) -> list[int]:
    """Record the batch size of every torch.fft.fft2 call."""
    rows, fft2 = [], torch.fft.fft2

    def counting(x, *args, **kwargs):
        rows.append(x.shape[0])
        return fft2(x, *args, **kwargs)
    monkeypatch.setattr(torch.fft, "fft2", counting)
    return rows


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_converged_start_leaves_the_batch(name, objects, monkeypatch):
    """Image 0 starts at its exact solution (residual ~0 <= floor; for shrink-wrap inside
    the support its update makes of it, so that the first update leaves it unchanged): it
    stops at the first check and the solver then transforms one row fewer per FFT; images
    1 and 2 (random starts inside the n x n frame) run the whole budget, bit for bit as
    without stopping."""
    x = objects[0].clone()
    x[0] = 0
    x[0, 5:17, 8:20] = 1.0  # a rectangle: inside the support its blur thresholds to
    y = forward(x, G.m)
    init = torch.randn(3, G.m, G.m, generator=torch.Generator().manual_seed(5),
                       dtype=torch.complex64)
    init[0] = pad(x[:1], G.m)[0]
    frame = G.frame_mask(torch.device("cpu")).repeat(3, 1, 1)
    if name in SHRINKWRAP:
        frame[0] = support.from_estimate(init[:1], 1.0, 0.1)[0]
    stopping = Stopping(floor=1e-8)  # the floor test alone
    x_all, info_all = SOLVERS[name](y, frame, init, geometry=G, n_starts=1, **PARAMS[name])
    rows = _count_fft_rows(monkeypatch)
    x_stop, info = SOLVERS[name](y, frame, init, geometry=G, stopping=stopping, n_starts=1,
                                   **PARAMS[name])
    monkeypatch.undo()
    # ALM's own tolerances also stop a solved instance ("solved"), with or without the test.
    assert STOP_REASONS[int(info.stop_reason[0])] in ({"floor", "solved"} if name == "alm_lbfgs"
                                                       else {"floor"})
    assert info.stop_reason[1:].tolist() == [0, 0] == info_all.stop_reason[1:].tolist()
    if name == "alm_lbfgs":
        assert info.extra["outer_iterations"].tolist() == [1, 4, 4]
        remaining = (PARAMS[name]["outer_iters"] - 1) * LOG_EVERY  # >= 1 FFT per L-BFGS step
    else:
        assert info.iterations[0] == LOG_EVERY + PARAMS[name].get("er_iters", 0)
        assert info.iterations[1] == info_all.iterations[1] > info.iterations[0]
        remaining = ITERS - LOG_EVERY  # >= 1 FFT per iteration
    assert rows[0] == 3 and rows.count(2) >= remaining
    assert torch.equal(x_stop[1:], x_all[1:])
    torch.testing.assert_close(x_stop[0], init[0], atol=1e-4, rtol=0)  # kept where it stopped


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_batch_gives_each_image_alone(name, objects):
    """With stopping on (floor and stall), tight supports and 2 random starts per image,
    the batch's reconstructions, iterations and stop reasons are each image's alone;
    and some start stops early, so the test exercises the compaction."""
    _, y, tight = objects
    params = dict(PARAMS[name], n_starts=2)
    # Floors within reach of 60 iterations: ALM's few outer iterations and shrink-wrap's
    # moving support (a start stops only once an update leaves it unchanged) end higher.
    floor = 1e-3 if name == "alm_lbfgs" else 1e-2 if name in SHRINKWRAP else 1e-5
    stopping = Stopping(tol=0.05, window=20, floor=floor)
    x_batch, info = SOLVERS[name](y, tight, seed=7, geometry=G, stopping=stopping, **params)
    assert (info.stop_reason > 0).any()
    for b in range(len(y)):
        x_one, one = SOLVERS[name](y[b:b + 1], tight[b:b + 1], seed=7, geometry=G,
                                   stopping=stopping, **params)
        torch.testing.assert_close(x_one[0], x_batch[b], atol=1e-5, rtol=0)
        assert one.iterations[0] == info.iterations[b]
        assert one.stop_reason[0] == info.stop_reason[b]
