"""The merge methods on small tensors, against numbers worked out by hand.

The TIES example shared by several tests: base b = [1, 1, 1, 1] and task vectors

    d1 = [ 3, -2, 1,   0.5]
    d2 = [-1, -4, 2,   0.1]
    d3 = [-4,  1, 0.2, -0.3]

At density 0.5 each keeps floor(0.5 * 4) = 2 entries, the largest in magnitude:

    t1 = [ 3, -2, 0, 0]    t2 = [0, -4, 2, 0]    t3 = [-4, 1, 0, 0]

Two models (d1, d2), weights 1: sum [3, -6, 2, 0], elected signs [+, -, +, +] (0 is +);
agreeing: entry 0 t1 only, entry 1 both, entry 2 t2 only, entry 3 none. Disjoint mean
[3/1, (-2 - 4)/2, 2/1, 0/1] = [3, -3, 2, 0]; out = b + that = [4, -2, 3, 1].
"""

from __future__ import annotations

import inspect
import keyword
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

import tuneforge.merge.methods as registry
from tuneforge.errors import ConfigError
from tuneforge.merge.methods import METHODS, REQUIRED, check_parameters
from tuneforge.merge.methods.dare import dare_linear, dare_ties
from tuneforge.merge.methods.linear import linear
from tuneforge.merge.methods.slerp import slerp
from tuneforge.merge.methods.task_arithmetic import task_arithmetic
from tuneforge.merge.methods.ties import ties, trim

BASE = torch.ones(4)
D1 = torch.tensor([3.0, -2.0, 1.0, 0.5])
D2 = torch.tensor([-1.0, -4.0, 2.0, 0.1])
D3 = torch.tensor([-4.0, 1.0, 0.2, -0.3])


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- merging a model with itself returns it ---------------------------------------------

X = torch.tensor([[0.3, -1.2, 2.5], [4.0, -0.7, 0.01]])
OTHER_BASE = torch.tensor([[1.0, 0.5, -2.0], [3.0, 0.2, 0.0]])


@pytest.mark.parametrize(
    "merge",
    [
        # (0.2 x + 0.7 x) / 0.9 = x, whatever the weights
        lambda: linear([X, X], weight=[0.2, 0.7]),
        # parallel: the lerp (1 - t) x + t x = x, for any t
        lambda: slerp(X, [X], t=0.3),
        lambda: slerp(X, [X], t=1.7),
        # both task vectors are d = x - b; sum of weights 1: b + 0.25 d + 0.75 d = x
        lambda: task_arithmetic(OTHER_BASE, [X, X], weight=[0.25, 0.75]),
        # density 1 trims nothing, every entry agrees: (0.3 d + 0.5 d) / 0.8 = d
        lambda: ties(OTHER_BASE, [X, X], weight=[0.3, 0.5], density=[1.0, 1.0]),
        # density 1 drops nothing; normalize is off by default, so the weights sum to 1
        lambda: dare_linear(OTHER_BASE, [X, X], weight=[0.25, 0.75], density=[1.0, 1.0]),
        lambda: dare_ties(OTHER_BASE, [X, X], weight=[0.25, 0.75], density=[1.0, 1.0]),
        # ... or any weights with normalize
        lambda: dare_linear(
            OTHER_BASE, [X, X], weight=[2.0, 3.0], density=[1.0, 1.0], normalize=True
        ),
    ],
)
def test_merging_a_model_with_itself_returns_it(merge):
    assert_close(merge(), X, rtol=1e-6, atol=1e-6)


def test_dare_at_density_1_draws_nothing():
    generator = seeded()
    state = generator.get_state()
    dare_ties(OTHER_BASE, [X], weight=[1.0], density=[1.0], generator=generator)
    assert torch.equal(generator.get_state(), state)


# --- linear --------------------------------------------------------------------------


def test_linear_by_hand():
    """Weights 1 and 3 on [0, 4] and [4, 0]: [12, 4], divided by 1 + 3 = [3, 1]."""
    a, b = torch.tensor([[0.0, 4.0]]), torch.tensor([[4.0, 0.0]])
    assert torch.equal(linear([a, b], weight=[1.0, 3.0]), torch.tensor([[3.0, 1.0]]))
    assert torch.equal(
        linear([a, b], weight=[1.0, 3.0], normalize=False), torch.tensor([[12.0, 4.0]])
    )


def test_linear_accumulates_in_float32_and_returns_the_inputs_dtype():
    """256 + 1 + 1 = 258, exact in bfloat16; summed in bfloat16, 256 + 1 rounds to 256
    (half to even) and so does 256 + 1 again."""
    tensors = [torch.tensor([v], dtype=torch.bfloat16) for v in (256.0, 1.0, 1.0)]
    out = linear(tensors, weight=[1.0, 1.0, 1.0], normalize=False)
    assert out.dtype == torch.bfloat16
    assert out.item() == 258.0


def test_linear_refuses_to_divide_by_a_zero_sum_of_weights():
    with pytest.raises(ConfigError, match="sum to 0.*normalize: false"):
        linear([X, X], weight=[1.0, -1.0])


# --- task arithmetic -------------------------------------------------------------------


def test_task_arithmetic_by_hand():
    """b = [1, 1]; d1 = [1, 0], d2 = [0, 2]; weights 1, 0.5: sum [1, 1].
    lambda 2: b + [2, 2] = [3, 3]. With normalize: [1, 1] / 1.5 * 2 = [4/3, 4/3]."""
    base, models = torch.tensor([1.0, 1.0]), [torch.tensor([2.0, 1.0]), torch.tensor([1.0, 3.0])]
    out = task_arithmetic(base, models, weight=[1.0, 0.5], lambda_=2.0)
    assert_close(out, torch.tensor([3.0, 3.0]))
    out = task_arithmetic(base, models, weight=[1.0, 0.5], lambda_=2.0, normalize=True)
    assert_close(out, torch.tensor([7 / 3, 7 / 3]))


def test_task_arithmetic_negation_and_zero_weight_sum():
    """A weight of -1 subtracts the task: [0, 0] - [1, 2]. Weights 1 and -1 sum to 0,
    below 1e-8, so normalize leaves the sum undivided: d1 - d2 = 2 - 1 = 1."""
    zero = torch.zeros(2)
    out = task_arithmetic(zero, [torch.tensor([1.0, 2.0])], weight=[-1.0])
    assert torch.equal(out, torch.tensor([-1.0, -2.0]))
    out = task_arithmetic(
        torch.zeros(1), [torch.tensor([2.0]), torch.tensor([1.0])], weight=[1, -1], normalize=True
    )
    assert torch.equal(out, torch.tensor([1.0]))


# --- SLERP -----------------------------------------------------------------------------


def test_slerp_endpoints():
    a, b = torch.randn(3, 5, generator=seeded(1)), torch.randn(3, 5, generator=seeded(2))
    assert_close(slerp(a, [b], t=0.0), a, rtol=1e-6, atol=1e-6)
    assert_close(slerp(a, [b], t=1.0), b, rtol=1e-6, atol=1e-6)


def test_slerp_of_orthogonal_unit_vectors():
    """theta = pi/2, sin theta = 1: at t = 0.5 both coefficients are sin(pi/4) = 1/sqrt 2."""
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert_close(slerp(a, [b], t=0.5), (a + b) / math.sqrt(2))


def test_slerp_of_unit_vectors_walks_the_circle():
    """a = [1, 0], b = [0.6, 0.8] = [cos phi, sin phi], phi = acos 0.6 = 0.927295; at
    t = 0.25 the point at angle phi/4 = 0.231824: [cos, sin] = [0.973249, 0.229753]."""
    out = slerp(torch.tensor([1.0, 0.0]), [torch.tensor([0.6, 0.8])], t=0.25)
    assert_close(out, torch.tensor([0.973249, 0.229753]), rtol=0, atol=1e-6)


def test_slerp_interpolates_directions_not_norms():
    """a = [1, 0], b = [0, 2]: directions orthogonal, so t = 0.5 gives a/sqrt 2 + b/sqrt 2
    = [0.707107, 1.414214] (mergekit's convention: raw tensors, not unit vectors)."""
    out = slerp(torch.tensor([1.0, 0.0]), [torch.tensor([0.0, 2.0])], t=0.5)
    assert_close(out, torch.tensor([0.707107, 1.414214]), rtol=0, atol=1e-6)


def test_slerp_falls_back_to_lerp_for_parallel_vectors():
    """[1, 2] and [2, 4]: cos 1, lerp at t = 0.25: 0.75 [1, 2] + 0.25 [2, 4] = [1.25, 2.5].
    Antiparallel a and -a (cos -1): the lerp at 0.5 is 0."""
    a = torch.tensor([1.0, 2.0])
    assert_close(slerp(a, [2 * a], t=0.25), torch.tensor([1.25, 2.5]))
    assert_close(slerp(a, [-a], t=0.5), torch.zeros(2))


def test_slerp_threshold():
    """Unit vectors at cos phi = 0.9996 (above 0.9995) are lerped, the midpoint is inside
    the circle, |(a + b) / 2| = sqrt((1 + 0.9996) / 2) = 0.9999; at cos phi = 0.999 the
    slerp stays on it."""
    a = torch.tensor([1.0, 0.0])
    lerped = slerp(a, [torch.tensor([0.9996, math.sqrt(1 - 0.9996**2)])], t=0.5)
    assert lerped.norm().item() == pytest.approx(math.sqrt((1 + 0.9996) / 2), abs=1e-6)
    slerped = slerp(a, [torch.tensor([0.999, math.sqrt(1 - 0.999**2)])], t=0.5)
    assert slerped.norm().item() == pytest.approx(1.0, abs=1e-6)


def test_slerp_of_a_zero_base():
    """A zero norm counts as 1, so the dot is 0 and theta pi/2: at t = 0.5 the result is
    sin(pi/4) b = 0.707107 b (mergekit's rule), not the lerp's 0.5 b."""
    b = torch.tensor([2.0, -4.0])
    assert_close(slerp(torch.zeros(2), [b], t=0.5), 0.707107 * b, rtol=1e-6, atol=1e-6)


def test_slerp_over_several_chunks_matches_float64():
    """Over 2^20 entries the norms and dot are reduced chunk by chunk; every chunk of the
    output must be written, and the result must match the formula in float64."""
    n = (1 << 20) + 1000
    a = torch.randn(n, generator=seeded(3)) * 0.02
    b = a + torch.randn(n, generator=seeded(4)) * 0.01
    out = slerp(a, [b], t=0.3)
    a64, b64 = a.double(), b.double()
    theta = torch.acos(a64 @ b64 / (a64.norm() * b64.norm()))
    expected = (torch.sin(0.7 * theta) * a64 + torch.sin(0.3 * theta) * b64) / torch.sin(theta)
    assert out.dtype == torch.float32
    assert_close(out.double(), expected, rtol=0, atol=2e-6)


def test_slerp_takes_exactly_one_model_besides_the_base():
    with pytest.raises(ValueError, match="exactly two models"):
        slerp(X, [X, X], t=0.5)


# --- TIES ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deltas", "weights", "options", "expected_delta"),
    [
        # the docstring's example
        ([D1, D2], [1.0, 1.0], {}, [3.0, -3.0, 2.0, 0.0]),
        # weights 1, 2: w t = [3, -2, 0, 0], [0, -8, 4, 0]; sum [3, -10, 4, 0], same signs;
        # [3/1, -10/(1 + 2), 4/2, 0/1]
        ([D1, D2], [1.0, 2.0], {}, [3.0, -10 / 3, 2.0, 0.0]),
        # lambda 0.5 halves the merged delta
        ([D1, D2], [1.0, 1.0], {"lambda_": 0.5}, [1.5, -1.5, 1.0, 0.0]),
        # three models: sums [3 + 0 - 4, -2 - 4 + 1, 2, 0] = [-1, -5, 2, 0], signs [-, -, +, +];
        # entry 0: only t3's -4 agrees (t1's +3 is outvoted); entry 1: t1, t2 (-6 / 2)
        ([D1, D2, D3], [1.0, 1.0, 1.0], {}, [-4.0, -3.0, 2.0, 0.0]),
        # the same undivided: [-4, -6, 2, 0]
        ([D1, D2, D3], [1.0, 1.0, 1.0], {"normalize": False}, [-4.0, -6.0, 2.0, 0.0]),
        # rescale: t1 = [3, -2, 0, 0] times sum|d1| / sum|t1| = 6.5 / 5 = 1.3
        ([D1], [1.0], {"rescale": True}, [3.9, -2.6, 0.0, 0.0]),
    ],
)
def test_ties_by_hand(deltas, weights, options, expected_delta):
    models = [BASE + d for d in deltas]
    out = ties(BASE, models, weight=weights, density=[0.5] * len(deltas), **options)
    assert_close(out, BASE + torch.tensor(expected_delta), rtol=0, atol=1e-6)


def test_ties_election_counts_a_zero_sum_as_positive():
    """d1 = [1], d2 = [-1]: the sum 0 elects +, so only d1 agrees: b + 1/1."""
    out = ties(torch.zeros(1), [torch.ones(1), -torch.ones(1)], weight=[1, 1], density=[1, 1])
    assert torch.equal(out, torch.ones(1))


@pytest.mark.parametrize(
    ("delta", "density", "expected"),
    [
        # |d| = [2, 2, 2, 1], k = 2: three entries tie at the threshold 2; the first two
        # in order are kept
        ([2.0, -2.0, 2.0, 1.0], 0.5, [2.0, -2.0, 0.0, 0.0]),
        # floor(0.6 * 4) = 2
        ([3.0, -2.0, 1.0, 0.5], 0.6, [3.0, -2.0, 0.0, 0.0]),
        # floor(0.1 * 4) = 0, but at least one entry is kept
        ([3.0, -2.0, 1.0, 0.5], 0.1, [3.0, 0.0, 0.0, 0.0]),
        ([3.0, -2.0, 1.0, 0.5], 0.0, [0.0, 0.0, 0.0, 0.0]),
    ],
)
def test_trim_keeps_the_largest_magnitudes(delta, density, expected):
    out = trim(torch.tensor(delta), density, rescale=False)
    assert torch.equal(out, torch.tensor(expected))


def test_trim_floors_density_times_size_in_python_floats():
    """0.29 * 100 = 28.999999999999996 in binary floating point: 28 entries kept."""
    kept = trim(torch.arange(1.0, 101.0), 0.29, rescale=False)
    assert int((kept != 0).sum()) == 28
    assert kept[-28:].ne(0).all()


def test_density_outside_0_1_is_a_config_error():
    with pytest.raises(ConfigError, match="between 0 and 1; got 50"):
        ties(BASE, [BASE + D1], weight=[1.0], density=[50.0])


# --- DARE ------------------------------------------------------------------------------

D_UP = torch.arange(1.0, 9.0)  # [1, ..., 8]
D_DOWN = torch.full((8,), -2.0)


def expected_masks(seed: int, densities: list[float], n: int = 8) -> list[torch.Tensor]:
    """The masks drawn the way the method draws them: one Bernoulli tensor per model, in
    order, from float32 probabilities, with the same generator."""
    generator = seeded(seed)
    masks = [torch.bernoulli(torch.full((n,), p), generator=generator) for p in densities]
    for mask in masks:  # a seed whose draw keeps all or nothing would prove little
        assert 0 < int(mask.sum()) < n
    return masks


def test_dare_linear_with_a_fixed_seed():
    """Weights equal to the densities cancel the rescale: w_i m_i d_i / rho_i = m_i d_i,
    so out = b + m1 d1 + m2 d2; without rescale, b + 0.5 m1 d1 + 0.25 m2 d2."""
    m1, m2 = expected_masks(0, [0.5, 0.25])
    base = torch.full((8,), 10.0)
    models = [base + D_UP, base + D_DOWN]
    out = dare_linear(base, models, weight=[0.5, 0.25], density=[0.5, 0.25], generator=seeded(0))
    assert torch.equal(out, base + m1 * D_UP + m2 * D_DOWN)
    out = dare_linear(
        base, models, weight=[0.5, 0.25], density=[0.5, 0.25], generator=seeded(0), rescale=False
    )
    assert torch.equal(out, base + 0.5 * m1 * D_UP + 0.25 * m2 * D_DOWN)


def test_dare_ties_with_a_fixed_seed():
    """d1 = +1 and d2 = -3 everywhere, density 0.5, weights 1: kept values 2 and -6.
    Both kept: sum -4, elected -, only d2 counts: -6. Only d1: 2. Only d2: -6. None: 0."""
    m1, m2 = expected_masks(1, [0.5, 0.5])
    base = torch.zeros(8)
    out = dare_ties(
        base, [base + 1, base - 3], weight=[1.0, 1.0], density=[0.5, 0.5], generator=seeded(1)
    )
    expected = torch.where(m2 == 1, -6.0, torch.where(m1 == 1, 2.0, 0.0))
    assert torch.equal(out, expected)


def test_dare_rescale_is_unbiased():
    """200,000 rows of d = [1, -2, 3, 0.5] at density 0.3: each entry keeps d / 0.3 with
    probability 0.3, so its mean is d, with standard error |d| sqrt(0.7 / 0.3) / sqrt(2e5)
    = 0.0034 |d| (0.010 for d = 3); 0.05 is five of those. Without rescale the mean is
    0.3 d, which that bound tells apart."""
    delta = torch.tensor([1.0, -2.0, 3.0, 0.5])
    base = torch.zeros(200_000, 4)
    model = base + delta
    kept = dare_linear(base, [model], weight=[1.0], density=[0.3], generator=seeded(5))
    assert_close(kept.mean(dim=0), delta, rtol=0, atol=0.05)
    assert (kept != 0).float().mean().item() == pytest.approx(0.3, abs=0.005)
    raw = dare_linear(
        base, [model], weight=[1.0], density=[0.3], generator=seeded(5), rescale=False
    )
    assert_close(raw.mean(dim=0), 0.3 * delta, rtol=0, atol=0.05)


def test_dare_is_reproducible_from_its_generator():
    base, models = torch.zeros(64), [torch.randn(64, generator=seeded(9))]
    first = dare_ties(base, models, weight=[1.0], density=[0.5], generator=seeded(7))
    again = dare_ties(base, models, weight=[1.0], density=[0.5], generator=seeded(7))
    other = dare_ties(base, models, weight=[1.0], density=[0.5], generator=seeded(8))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


# --- the registry ------------------------------------------------------------------------

MERGEKIT_DEFAULTS = {
    # name: (needs base, global parameters, per-model parameters), as in mergekit 0.1.5
    "linear": (False, {"normalize": True}, {"weight": REQUIRED}),
    "task_arithmetic": (True, {"normalize": False, "lambda": 1.0}, {"weight": REQUIRED}),
    "slerp": (True, {"t": REQUIRED}, {}),
    "ties": (
        True,
        {"normalize": True, "rescale": False, "lambda": 1.0},
        {"weight": REQUIRED, "density": 1.0},
    ),
    "dare_linear": (
        True,
        {"normalize": False, "rescale": True, "lambda": 1.0},
        {"weight": REQUIRED, "density": 1.0},
    ),
    "dare_ties": (
        True,
        {"normalize": False, "rescale": True, "lambda": 1.0},
        {"weight": REQUIRED, "density": 1.0},
    ),
}


def test_registry_has_mergekits_names_and_defaults():
    declared = {
        name: (m.needs_base, dict(m.global_parameters), dict(m.per_model_parameters))
        for name, m in METHODS.items()
    }
    assert declared == MERGEKIT_DEFAULTS
    assert METHODS["slerp"].max_models == 1


@pytest.mark.parametrize("name", sorted(METHODS))
def test_each_method_is_a_function_in_its_file_with_the_declared_parameters(name):
    method = METHODS[name]
    assert (Path(registry.__file__).parent / f"{method.module}.py").is_file()
    function = method.function
    assert (function.__module__, function.__name__) == (
        f"{registry.__name__}.{method.module}",
        name,
    )
    signature = {
        p.name: p.default
        for p in inspect.signature(function).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    # mergekit's `lambda` is a Python keyword, taken as `lambda_`; per-model parameters
    # are sequences without defaults (the registry fills them in)
    declared = {
        f"{g}_" if keyword.iskeyword(g) else g: inspect.Parameter.empty if d is REQUIRED else d
        for g, d in method.global_parameters.items()
    }
    declared |= {name: inspect.Parameter.empty for name in method.per_model_parameters}
    if method.random:
        declared["generator"] = None
    assert signature == declared


W1 = {"weight": 1}


@pytest.mark.parametrize(
    ("method", "global_params", "per_model", "message"),
    [
        ("dare-ties", {}, [], "unknown merge method 'dare-ties'; did you mean 'dare_ties'"),
        ("ties", {"normalise": True}, [W1], "no parameter 'normalise'; did you mean 'normalize'"),
        ("ties", {}, [W1 | {"densty": 0.5}], "model 1: .*'densty'; did you mean 'density'"),
        ("ties", {}, [W1 | {"lambda": 2.0}], "'lambda' is a parameter of the whole ties merge"),
        ("ties", {}, [W1 | {"int8_mask": True}], "'int8_mask' is a parameter of the whole"),
        ("ties", {}, [W1, {"density": 0.5}], "model 2: merge method 'ties' needs its 'weight'"),
        ("slerp", {}, [{}], "needs the parameter 't'"),
        ("slerp", {"t": "0.5"}, [{}], "t is a number, got '0.5'"),
        ("linear", {"normalize": "false"}, [W1], "normalize is true or false"),
        ("linear", {}, [{"weight": True}], "weight is a number"),
        ("task_arithmetic", {}, [W1 | {"density": 0.5}], "per-model parameter 'density'"),
    ],
)
def test_check_parameters_names_the_fix(method, global_params, per_model, message):
    with pytest.raises(ConfigError, match=message):
        check_parameters(method, global_params, per_model)


def test_check_parameters_accepts_mergekit_configs():
    """int8_mask changes only mergekit's scratch dtype; a per-model parameter at the top
    level is every model's default; weight may come from there too."""
    check_parameters("dare_ties", {"int8_mask": True, "density": 0.5, "weight": 1}, [{}, {}])
    check_parameters("slerp", {"t": 0.5}, [{}])


def test_check_parameters_names_models_when_given_names():
    with pytest.raises(ConfigError, match="model 'math-7b'"):
        check_parameters("ties", {}, [{"weight": 1, "densty": 1}], model_names=["math-7b"])


def test_merge_resolves_parameters_like_mergekit():
    """A top-level density is the default of every model; a model's own value wins."""
    models = [BASE + D1, BASE + D2]
    out = METHODS["ties"].merge(
        BASE, models, [{"weight": 1.0}, {"weight": 1.0, "density": 1.0}], {"density": 0.5}
    )
    assert torch.equal(out, ties(BASE, models, weight=[1.0, 1.0], density=[0.5, 1.0]))
    out = METHODS["task_arithmetic"].merge(BASE, models, [{"weight": 1}] * 2, {"lambda": 0.5})
    assert torch.equal(out, task_arithmetic(BASE, models, weight=[1, 1], lambda_=0.5))
    out = METHODS["dare_linear"].merge(
        BASE, models, [{"weight": 1}, {"weight": 1}], {"density": 0.5}, generator=seeded(2)
    )
    assert torch.equal(
        out, dare_linear(BASE, models, weight=[1, 1], density=[0.5, 0.5], generator=seeded(2))
    )


def test_merge_checks_the_base():
    with pytest.raises(ValueError, match="needs the base"):
        METHODS["ties"].merge(None, [X], [{"weight": 1}])
    with pytest.raises(ValueError, match="takes no base model"):
        METHODS["linear"].merge(X, [X], [{"weight": 1}])


def test_the_registry_imports_no_torch():
    """A config layer checks parameter names without loading torch."""
    code = "import sys, tuneforge.merge.methods; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
