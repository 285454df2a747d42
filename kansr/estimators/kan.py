"""scikit-learn estimators: :class:`KANRegressor`.

The estimator is the only place that decides the order of the workflow: validate -> scale ->
build the network -> train (here) -> the symbolic stage (:mod:`._symbolic_stage`); what a
fitted estimator gives back lives in :mod:`._outputs`. Inputs and the target are
standardised internally; the scaling is kept (``x_mean_``, ``x_scale_``, ``y_mean_``,
``y_scale_``) so that formulas can later be written in the user's original units.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight

from kansr.estimators._fit_data import FitData
from kansr.estimators._outputs import FormulaOutputs
from kansr.estimators._pins import checked_pins
from kansr.estimators._symbolic_stage import SymbolicStage
from kansr.io import persistence
from kansr.nn.fitting import train_weighted
from kansr.nn.network import DTYPES, KAN, layer_shapes
from kansr.nn.restarts import best_restart, run_restarts
from kansr.nn.training import TrainConfig, TrainingDiverged, TrainResult
from kansr.symbolic.pareto import SELECTION_RULES
from kansr.symbolic.units import UnitDimensions, unit_dimensions
from kansr.utils.deadline import Deadline
from kansr.utils.progress import StageLog
from kansr.utils.threads import compute_threads
from kansr.utils.validation import (
    check_magnitudes,
    feature_names,
    standard_scale,
    validate_input,
)
from kansr.utils.warn import warn_user

__all__ = ["KANRegressor"]

_MIN_SYMBOLIC_TIME = 2.0  # seconds the symbolic stage always gets under max_time


class KANRegressor(SymbolicStage, FormulaOutputs, RegressorMixin, BaseEstimator):
    """Regression with a Kolmogorov-Arnold Network.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(5,)
        Addition nodes of the hidden layers (0 where ``multiplication_nodes`` fill a layer);
        the network is ``[n_features, *hidden, 1]`` with the multiplication nodes added.
    multiplication_nodes : int or tuple of int, default=0
        Multiplication nodes added to each hidden layer (an int: as many in every one;
        a tuple: one count per hidden layer). Each is the product of two outputs of the
        layer before it (MultKAN, KAN 2.0), so that a product of two functions,
        ``x*sin(y)``, is one node of the network and of its formula.
    grid : int, default=5
        Number of B-spline grid intervals per edge.
    spline_order : int, default=3
        Order ``k`` of the B-splines (3 = cubic).
    base_function : {"silu", "identity", "zero"}, default="silu"
        Residual function ``b`` of every edge, ``phi = w_b * b(x) + spline(x)``.
    solver : {"lbfgs", "adam"}, default="lbfgs"
        Full-batch LBFGS (small and medium data) or mini-batch Adam (large data).
    max_iter : int, default=100
        Maximum number of optimizer steps (LBFGS: 10 iterations each) or epochs (Adam).
    tol : float, default=1e-7
        Relative loss improvement that counts as progress for stopping.
    n_iter_no_change : int, default=10
        Steps without progress before training stops.
    learning_rate_init : float or None, default=None
        Step size; ``None`` uses 1.0 for LBFGS and 0.01 for Adam.
    batch_size : int, default=256
        Mini-batch size of Adam.
    sparsity : float, default=0.0
        Weight of the KAN sparsity penalty (L1 + entropy of edge magnitudes), relative to the
        mean squared error of the standardised target.
    entropy_weight : float, default=2.0
        Weight of the entropy part of the sparsity penalty.
    grid_update_until : int, default=50
        Grids are refreshed from the data every 5 steps until this step (0: never).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its loss stops improving and
        keep the best parameters.
    validation_fraction : float, default=0.1
        Share of the data held out when ``early_stopping`` is true.
    warm_start : bool, default=False
        When fitted already, :meth:`fit` continues training the fitted network on the new
        data instead of starting afresh (continual learning): the scaling of the first fit is
        kept, grids are widened exactly to cover inputs outside the range seen so far and
        never moved to the new data, and only the spline coefficients train; base weights
        and node biases act on the whole input range and stay fixed, so what was learned
        elsewhere is kept (spline locality). The network continues as fitted, i.e. pruned
        when ``symbolic=True``; fit the phases with ``symbolic=False`` to keep every edge.
        Formulas are searched on the data of the current call. ``hidden_layer_sizes`` and
        the number of features must not change.
    n_restarts : int, default=1
        Networks trained from different random initialisations; the one with the lowest
        loss (validation loss with ``early_stopping``) goes on to the symbolic stage.
        Several restarts each train with one torch thread, in parallel through joblib, so
        the result is the same for every ``n_jobs`` and backend. Ignored by warm starts.
    n_jobs : int or None, default=None
        Parallel workers for the restarts (joblib's meaning: ``None`` is 1 unless inside a
        ``joblib.parallel_config`` context, ``-1`` all cores; a Dask cluster works through
        ``joblib.parallel_config(backend="dask")``).
    max_time : float or None, default=None
        Wall-clock budget of the whole :meth:`fit` in seconds: training stops at the deadline
        (checked between steps, mini-batches and LBFGS function evaluations) and the symbolic
        stage gets what is left, but at least 2 s; it then returns the formulas found so far
        (at least the constant) with a ``ConvergenceWarning``. One indivisible piece of work
        (matching one library function, one sympy call: seconds) may overrun it.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the network.
    device : str, default="cpu"
        Torch device, e.g. ``"cuda"``.
    symbolic : bool, default=True
        After training, prune weak edges, match every remaining edge against the symbolic
        library and build the formulas of ``equations_``.
    library : list of str or SymbolicFunction, or None, default=None
        Candidate functions for the edges (``None``: the default library).
    pinned_edges : list of (int, int, int, str), or None, default=None
        Functions pinned on edges before the formulas are read off the network (pykan's
        ``fix_symbolic``): ``[(layer, i, o, "sin")]`` reads edge ``(layer, i, o)`` (input
        ``i`` of layer ``layer`` to its output ``o``) as ``c*sin(a*x + b) + d`` whatever
        function matches it best; the names of ``library`` and ``sinh``, ``cosh``,
        ``arcsin``. :meth:`suggest` shows an edge's best matches. The network's formulas are
        then read even when the structure search found an exact one; a pinned edge that
        pruning cuts is reported with a warning.
    prune_threshold : float, default=0.02
        Edges and hidden nodes whose importance (output nodes count 1) is below this are cut.
    search_structure : bool, default=True
        Also search the data directly for monomials, separable sums and products and
        monomials times such forms (:mod:`kansr.symbolic.structure.search`); their formulas
        join the network's on the Pareto front. Needs ``symbolic=True``.
    model_selection : {"bic", "cv", "best", "accuracy"}, default="bic"
        Which formula of ``equations_`` :meth:`sympy_expr` returns and :meth:`predict` evaluates.
        ``"bic"`` (for measured data) takes the lowest Bayesian information criterion with a
        description length of the tree (``n ln(mse) + p ln(n) + ln(12) complexity`` plus AICc's
        small-sample term, ``n`` rows, ``p`` fitted constants;
        :func:`kansr.symbolic.pareto.information_criterion`): on exact data the most accurate
        formula, on noisy or small data a parsimonious one, never one with more constants than the
        data support: on at most 200 rows a formula of fewer constants that predicts held-out rows
        (5-fold cross-validation, leave-one-out below 15 rows, constants refit per fold) at least as
        well replaces the choice (:func:`kansr.symbolic.cross_validation.fewer_constants_choice`),
        and when none does, a formula of one fitted constant more (and no more exact numbers
        chosen by the data) that predicts them more than 5 % better
        (:func:`kansr.symbolic.cross_validation.more_constants_choice`).
        ``"cv"`` (for prediction on small data) is ``"bic"`` checked by cross-validation on at most
        200 rows: the few formulas within 6 nats of the lowest criterion are compared by 5-fold
        cross-validation (leave-one-out below 15 rows), their constants refit on each fold's
        training rows, and the criterion's choice stays unless another predicts the held-out rows
        more than 5 % better (:func:`kansr.symbolic.cross_validation.cross_validated_choice`). On
        the measured data benchmark it predicts held-out rows better but returns the published law
        less often (docs/benchmarks.md). ``"best"`` is PySR's rule: among formulas whose loss is
        within 1.5 times the lowest, the one whose loss fell most per unit of added complexity (made
        for exact data: on noisy data it rewards any fall in training loss). ``"accuracy"``: the
        lowest training loss.
    maxsize : int or None, default=None
        Largest complexity (number of nodes) of a formula on ``equations_`` (``None``: no
        cap; the constant is always there).
    X_units : list of (str or None), dict or None, default=None
        Units of the features (PySR's name), e.g. ``["mph"]`` or ``{"dist": "mi", "climb":
        "ft"}``: one unit per column, or a dict from column names to units (columns it leaves
        out, and ``None`` entries, have unknown units). Text such as ``"m/s^2"``, ``"kg m-3"``,
        ``"g/(hp*h)"``, ``""`` (dimensionless); unit names kansr does not know (``"Shore"``)
        are dimensions of their own (grammar in :mod:`kansr.symbolic.units`). When units are
        given, every formula on ``equations_`` is dimensionally consistent, with fitted
        constants free to carry units and exact numbers carrying none: ``3*speed`` cannot be a
        distance, ``2.93*speed`` can. In a formula that is not, a snapped number or the
        implicit rate of a function's variable is made a fitted constant again where that
        makes it so (``3*speed`` -> ``a*speed``, ``tanh(Conc)`` -> ``tanh(a*Conc)``, refit);
        formulas inconsistent by their form (``hard - tens``) are left out. A temperature in
        ``"degC"`` or ``"degF"`` (an arbitrary zero) is measured from a fitted zero in the
        formulas whose form depends on it (``a*T**4`` -> ``a*(T + c)**4``;
        :mod:`kansr.symbolic.offset_scales`).
    y_units : str or None, default=None
        Units of the target (``None``: unknown, any). Used with ``X_units``.
    n_threads : int or None, default=None
        torch threads and BLAS threads (numpy's linear algebra) used by :meth:`fit`
        (``None``: 1, which is fastest for the small matrices of a KAN on up to millions of
        rows of few features, and keeps the formula independent of the machine's cores; more
        can help for very wide networks). The caller's settings are restored afterwards.
        Restarts in parallel (``n_jobs``) train with one thread each.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and the mini-batch order; global RNG state is never used.
    verbose : int, default=0
        When positive, name every stage of :meth:`fit` as it starts and ends, with its time
        (with a progress bar over the stages when tqdm is installed: ``pip install
        kansr[progress]``), and print training and validation loss every 10 steps.

    Attributes
    ----------
    module_ : kansr.nn.network.KAN
        The trained network (on standardised data).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names when ``X`` was a DataFrame with string column names.
    x_mean_, x_scale_ : ndarray of shape (n_features_in_,)
        Standardisation of the inputs: ``z = (x - x_mean_) / x_scale_``.
    y_mean_, y_scale_ : float
        Standardisation of the target.
    n_iter_ : int
        Optimizer steps (or epochs) run.
    loss_curve_ : list of float
        Training objective after every step (standardised units).
    validation_scores_ : list of float or None
        Validation mean squared error per step when ``early_stopping``.
    stop_reason_ : str
        ``"max_iter"``, ``"converged"``, ``"early_stopping"``, ``"max_time"`` (the budget ran
        out in training or in the symbolic stage), ``"interrupted"`` (``KeyboardInterrupt``:
        the state reached is kept, the symbolic stage shortened; a warning says so) or
        ``"constant_target"`` (nothing was trained: the prediction is the constant).
    fit_time_ : float
        Seconds spent in :meth:`fit`.
    equations_ : pandas.DataFrame or None
        Pareto front of formulas (``complexity``, ``loss`` = mean squared error on the training
        data, or on its subsample of 10,000 rows when larger, ``score``, ``sympy_format``,
        ``latex``), simplest first, with the formulas the information criterion rates above
        every simpler and more accurate one (fewer fitted constants); ``None`` when
        ``symbolic=False``.
    selected_index_ : int or None
        Row of ``equations_`` chosen by ``model_selection``.
    feature_importances_ : ndarray of shape (n_features_in_,)
        Share of each feature in the trained network's output (before pruning): the sum of
        its first-layer edges' scores (:meth:`kansr.nn.network.KAN.node_scores`: an edge's
        standard deviation over its node's, weighted by the node's own importance; outputs
        count 1) on up to 10,000 training rows, normalised to sum 1 (all 0 for a constant
        target).
    constants_ : pandas.DataFrame
        The fitted constants of the selected formula (see :meth:`constants`): ``value``,
        ``std_error`` (as nonlinear least squares reports it) and ``relative_error``.

    Notes
    -----
    Input: ``X`` must be dense, numeric (bool and integer columns are converted to float64;
    non-numeric DataFrame columns are named in the error) and finite, with at least 2 rows
    and 1 column; ``y`` one numeric column (fit one estimator per output otherwise, e.g.
    with ``sklearn.multioutput.MultiOutputRegressor``). Values beyond ``1e100`` in magnitude,
    or non-constant columns varying by less than ``1e-100``, are rejected with a
    ``ValueError`` (formulas are evaluated in float64, where their squares overflow or
    underflow): rescale such columns. Constant features are allowed and never appear in a
    formula (they are replaced by their value); a constant target gives that constant.

    Memory and time: training is ``O(n_samples)`` per step (LBFGS holds the full batch;
    use ``solver="adam"`` with mini-batches for millions of rows). The symbolic stage uses a
    fixed, deterministic subsample of at most 10,000 rows (the structure search at most
    2,000 of them, edge matching 512) and matches edges in chunks, so its memory does not
    grow with ``n_samples``; its time grows with the number of edges (``n_features *
    hidden``), which ``max_time`` bounds.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like"],
        "multiplication_nodes": [Interval(Integral, 0, None, closed="left"), "array-like"],
        "grid": [Interval(Integral, 1, None, closed="left")],
        "spline_order": [Interval(Integral, 1, None, closed="left")],
        "base_function": [StrOptions({"silu", "identity", "zero"})],
        "solver": [StrOptions({"lbfgs", "adam"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "entropy_weight": [Interval(Real, 0, None, closed="left")],
        "grid_update_until": [Interval(Integral, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "warm_start": ["boolean"],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "dtype": [StrOptions({"float32", "float64"})],
        "device": [str],
        "symbolic": ["boolean"],
        "library": [list, tuple, None],
        "pinned_edges": [list, tuple, None],
        "prune_threshold": [Interval(Real, 0, 1, closed="left")],
        "search_structure": ["boolean"],
        "model_selection": [StrOptions(set(SELECTION_RULES))],
        "maxsize": [Interval(Integral, 1, None, closed="left"), None],
        "X_units": [list, tuple, dict, None],
        "y_units": [str, None],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(5,),
        *,
        multiplication_nodes=0,
        grid=5,
        spline_order=3,
        base_function="silu",
        solver="lbfgs",
        max_iter=100,
        tol=1e-7,
        n_iter_no_change=10,
        learning_rate_init=None,
        batch_size=256,
        sparsity=0.0,
        entropy_weight=2.0,
        grid_update_until=50,
        early_stopping=False,
        validation_fraction=0.1,
        warm_start=False,
        n_restarts=1,
        n_jobs=None,
        max_time=None,
        dtype="float64",
        device="cpu",
        symbolic=True,
        library=None,
        pinned_edges=None,
        prune_threshold=0.02,
        search_structure=True,
        model_selection="bic",
        maxsize=None,
        X_units=None,
        y_units=None,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.multiplication_nodes = multiplication_nodes
        self.grid = grid
        self.spline_order = spline_order
        self.base_function = base_function
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.sparsity = sparsity
        self.entropy_weight = entropy_weight
        self.grid_update_until = grid_update_until
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.warm_start = warm_start
        self.n_restarts = n_restarts
        self.n_jobs = n_jobs
        self.max_time = max_time
        self.dtype = dtype
        self.device = device
        self.symbolic = symbolic
        self.library = library
        self.pinned_edges = pinned_edges
        self.prune_threshold = prune_threshold
        self.search_structure = search_structure
        self.model_selection = model_selection
        self.maxsize = maxsize
        self.X_units = X_units
        self.y_units = y_units
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ helpers
    def _hidden_sizes(self) -> list[int]:
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes))
        if sizes.ndim != 1 or (sizes.size and not np.issubdtype(sizes.dtype, np.integer)):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of integers, "
                f"got {self.hidden_layer_sizes!r}"
            )
        if np.any(sizes < 0):
            raise ValueError(
                f"hidden_layer_sizes must be non-negative, got {self.hidden_layer_sizes!r}"
            )
        return [int(s) for s in sizes]

    def _mult_sizes(self) -> list[int]:
        """Multiplication nodes of every hidden layer, from ``multiplication_nodes``."""
        n_hidden = len(self._hidden_sizes())
        sizes = np.atleast_1d(np.asarray(self.multiplication_nodes))
        if (
            sizes.ndim != 1
            or (sizes.size and not np.issubdtype(sizes.dtype, np.integer))
            or np.any(sizes < 0)
        ):
            raise ValueError(
                "multiplication_nodes must be a non-negative integer or one per hidden layer, "
                f"got {self.multiplication_nodes!r}"
            )
        if np.ndim(self.multiplication_nodes) == 0:  # the same count in every hidden layer
            if n_hidden or not sizes[0]:  # (no hidden layer: only 0 fits)
                sizes = np.repeat(sizes, n_hidden)
        if sizes.size != n_hidden:
            raise ValueError(
                f"multiplication_nodes={self.multiplication_nodes!r} needs one count per "
                f"hidden layer, and hidden_layer_sizes={self.hidden_layer_sizes!r} has "
                f"{n_hidden}"
            )
        return [int(s) for s in sizes]

    def _width(self, n_features: int) -> list[int]:
        """Node counts of every level: ``[n_features, *(hidden + multiplication), 1]``."""
        nodes = [a + m for a, m in zip(self._hidden_sizes(), self._mult_sizes(), strict=True)]
        if min(nodes, default=1) < 1:
            raise ValueError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} with multiplication nodes "
                f"{self._mult_sizes()} leaves hidden layer {nodes.index(0)} without nodes; "
                "give every hidden layer addition or multiplication nodes"
            )
        return [n_features, *nodes, 1]

    def _build_module(self, width: list[int], seed: int) -> torch.nn.Module:
        """The untrained network of layer widths ``width`` (subclasses swap the network)."""
        return KAN(
            width,
            mult=self._mult_sizes(),
            grid=self.grid,
            k=self.spline_order,
            base_fun=self.base_function,
            dtype=DTYPES[self.dtype],
            device=self.device,
            seed=seed,
        )

    def _finalize_module(self, module: torch.nn.Module) -> KAN:
        """The trained network as a plain :class:`~kansr.nn.network.KAN` (identity here)."""
        return module

    def _trained_module(self) -> torch.nn.Module:
        """The fitted network that ``warm_start`` continues (subclasses: their own)."""
        return self.module_

    def _torch(self, values: np.ndarray) -> torch.Tensor:
        return torch.tensor(values, dtype=DTYPES[self.dtype], device=self.device)

    def _train_config(self) -> TrainConfig:
        return TrainConfig(
            solver=self.solver,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate_init,
            batch_size=self.batch_size,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            sparsity=self.sparsity,
            entropy_weight=self.entropy_weight,
            grid_update_until=self.grid_update_until,
            verbose=int(self.verbose),
        )

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network to ``X (n_samples, n_features)`` and ``y (n_samples,)``.

        ``sample_weight (n_samples,)`` (e.g. ``1/sigma**2`` for measurements with error bars
        ``sigma``) weights every squared error: in training, in the searches' constant refits,
        in the losses of ``equations_``, in the standard errors and in the selection. Rows
        with weight 0 are ignored. Through a ``Pipeline`` it is routed with scikit-learn's
        metadata routing (``est.set_fit_request(sample_weight=True)``).

        The stages of docs/workflow.md: prepare the data -> train the network -> search
        formulas (structure searches on the data, then prune and retrain the network and
        read formulas off its edges) -> Pareto front and selection.

        Bad input raises a ``ValueError`` or ``TypeError`` naming the problem (see Notes).
        ``KeyboardInterrupt`` (e.g. in a notebook) stops training with the state reached,
        shortens the symbolic stage and returns a usable estimator with
        ``stop_reason_ == "interrupted"`` and a warning.

        Returns
        -------
        self : KANRegressor
        """
        start = time.perf_counter()
        deadline = Deadline.after(self.max_time)
        log = StageLog(self.verbose, total=5 if self.symbolic else 2)
        try:
            with compute_threads(self.n_threads or 1):
                with self._unfitted_if_interrupted():
                    with log.stage("prepare data"):
                        data = self._prepare_data(X, y, sample_weight)
                    with log.stage("train the network"):
                        module, result = self._train_network(data, deadline)
                self._set_network(module, result, data)
                if self.symbolic:
                    # the searches try formulas that overflow or divide by zero on the data
                    # by design (such candidates are dropped): no numpy warnings for the user
                    with np.errstate(all="ignore"):
                        self._search_formulas(data, self._symbolic_deadline(result, deadline), log)
        finally:
            log.close()
        self.fit_time_ = time.perf_counter() - start
        return self

    @contextlib.contextmanager
    def _unfitted_if_interrupted(self):
        """An interrupt that escapes training (e.g. while workers start) leaves the estimator
        unfitted, or as it was when continuing a fit: never half fitted."""
        try:
            yield
        except KeyboardInterrupt:
            if not (self.warm_start and hasattr(self, "module_")):
                self._unfit()
            raise

    def _prepare_data(self, X, y, sample_weight=None) -> FitData:
        """Validate ``X, y`` and the weights, standardise them (in the first fit's units when
        warm starting), draw the restart seeds and the validation split."""
        warm = bool(self.warm_start) and hasattr(self, "module_")
        X, y = validate_input(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=True,
            ensure_min_samples=2,
            reset=not warm,
        )
        X = np.ascontiguousarray(X, dtype=np.float64)  # one memory layout: same results
        y = np.asarray(y, dtype=np.float64)
        weights = _normalised_weights(sample_weight, X)
        check_magnitudes(X, y, self._feature_names())
        rng = check_random_state(self.random_state)
        width = self._width(X.shape[1])
        shapes = layer_shapes(width, self._mult_sizes())
        checked_pins(self.pinned_edges, shapes, self.library)  # bad pins fail before training
        self._unit_dimensions()  # bad units too
        x_mean, x_scale, constant_features, y_mean, y_scale = self._scaling(X, y, warm, width)
        z = (X - x_mean) / x_scale
        t = (y - y_mean) / y_scale
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(t))):
            raise ValueError("Input values are too large to standardise in float64.")
        train_idx, val_idx = self._validation_split(X.shape[0], rng)
        seeds = [int(rng.randint(np.iinfo(np.int32).max)) for _ in range(self.n_restarts)]
        zt, tt = self._torch(z), self._torch(t[:, None])
        del z, t  # (the tensors are copies: big data is held once)
        return FitData(
            X, y, zt, tt, train_idx, val_idx, constant_features, x_mean, x_scale,
            y_mean, y_scale, width, seeds, warm, weights,
        )  # fmt: skip

    def _scaling(self, X, y, warm: bool, width: list[int]):
        """``x_mean, x_scale, constant_features, y_mean, y_scale`` of the data, or of the
        first fit when continuing one (``warm``, whose network must have ``width``)."""
        x_mean, x_scale, constant_features = standard_scale(X)
        y_mean, y_scale, _ = standard_scale(y[:, None])
        if not warm:
            return x_mean, x_scale, constant_features, float(y_mean[0]), float(y_scale[0])
        fitted_mult = self.module_.mult[1:-1]
        if list(self.module_.width) != width or fitted_mult != self._mult_sizes():
            raise ValueError(
                f"warm_start needs the fitted network's layer widths {self.module_.width} "
                f"with multiplication nodes {fitted_mult}, but hidden_layer_sizes="
                f"{self.hidden_layer_sizes!r} and multiplication_nodes="
                f"{self.multiplication_nodes!r} give {width} and {self._mult_sizes()}; "
                "set warm_start=False to start afresh"
            )
        fitted = next(self._trained_module().parameters()).dtype
        if fitted != DTYPES[self.dtype]:
            raise ValueError(
                f"warm_start continues the fitted network in {str(fitted).split('.')[-1]}, "
                f"but dtype={self.dtype!r}; set dtype back or warm_start=False"
            )
        return self.x_mean_, self.x_scale_, constant_features, self.y_mean_, self.y_scale_

    def _validation_split(self, n_samples: int, rng) -> tuple[np.ndarray | None, np.ndarray]:
        """Training rows and rows held out for ``early_stopping`` (without it: ``None``,
        every row trains, and no rows)."""
        if not self.early_stopping:
            return None, np.arange(0)
        n_val = max(1, int(round(self.validation_fraction * n_samples)))
        if n_samples - n_val < 2:
            raise ValueError(
                f"early_stopping needs at least 2 training samples after holding out "
                f"{n_val} for validation; got {n_samples} samples"
            )
        perm = rng.permutation(n_samples)
        return perm[n_val:], perm[:n_val]

    def _train_network(self, data: FitData, deadline: Deadline):
        """The trained network and its :class:`TrainResult`: a fresh fit (the best of
        ``n_restarts``), a continued one (``warm_start``) or, for a constant target, an
        untrained network that predicts the constant."""
        if np.ptp(data.y) == 0 and not data.warm:
            module = self._build_module(data.width, data.seeds[0])
            with torch.no_grad():
                module.layers[-1].weight.zero_()
                module.layers[-1].bias.zero_()
            return module, TrainResult(stop_reason="constant_target")
        config = self._train_config()
        x_fit, y_fit = data.fit_tensors()
        x_val, y_val = data.validation_tensors()
        try:
            if data.warm:
                return self._continue_training(data, config, deadline)
            build = functools.partial(type(self)._build_module, clone(self), data.width)
            restarts = run_restarts(
                build, data.seeds, x_fit, y_fit, config, x_val, y_val,
                deadline=deadline, n_jobs=self.n_jobs, sample_weight=data.fit_weights(),
                val_weight=data.validation_weights(),
            )  # fmt: skip
            best = best_restart(restarts)
            return best.module, best.result
        except TrainingDiverged as exc:
            if data.warm:
                raise RuntimeError(
                    f"{type(self).__name__} continued training (warm_start) diverged: "
                    f"{exc}. The estimator keeps its previous fit."
                ) from exc
            self._unfit()
            raise RuntimeError(
                f"KANRegressor training diverged: {exc}. Try a smaller learning_rate_init, "
                "solver='adam', or dtype='float64'; the estimator was left unfitted."
            ) from exc

    def _continue_training(self, data: FitData, config: TrainConfig, deadline: Deadline):
        """``warm_start``: train a copy of the fitted network on the new data, grids widened
        to cover it and never moved, only spline coefficients trainable."""
        module = copy.deepcopy(self._trained_module())  # a failure leaves the fit as it was
        module.widen_grids(data.z)
        config.grid_update_until = 0  # moving grids to new data forgets the old
        x_fit, y_fit = data.fit_tensors()
        x_val, y_val = data.validation_tensors()
        result = train_weighted(
            module,
            x_fit,
            y_fit,
            config,
            data.fit_weights(),
            x_val,
            y_val,
            data.validation_weights(),
            generator=torch.Generator().manual_seed(data.seeds[0] + 1),
            gradient_masks=module.local_gradient_masks(),
            deadline=deadline,
        )
        return module, result

    def _unfit(self) -> None:
        """Remove every fitted attribute (``validate_data`` set ``n_features_in_``)."""
        for name in [v for v in vars(self) if v.endswith("_") and not v.startswith("__")]:
            delattr(self, name)

    def _set_network(self, module, result: TrainResult, data: FitData) -> None:
        """Store the trained network, the scaling and the training record; warn when
        training was cut short."""
        self.module_ = self._finalize_module(module).eval()
        self.x_mean_, self.x_scale_ = data.x_mean, data.x_scale
        self.y_mean_, self.y_scale_ = data.y_mean, data.y_scale
        self.n_iter_ = max(result.n_iter, 1)
        self.loss_curve_ = result.loss_curve
        self.validation_scores_ = result.validation_curve if self.early_stopping else None
        self.stop_reason_ = result.stop_reason
        self.feature_importances_ = _importances(self.module_, data.z)
        self.equations_, self.selected_index_ = None, None
        if result.stop_reason == "interrupted":
            warn_user(
                f"KANRegressor.fit interrupted (KeyboardInterrupt) after {result.n_iter} "
                "training steps: the network reached so far is kept"
                + (" and the symbolic stage is shortened" if self.symbolic else ""),
                UserWarning,
            )
        elif result.stop_reason == "max_time":
            warn_user(
                f"max_time={self.max_time} s ran out after {result.n_iter} training steps; "
                "the network reached so far is kept",
                ConvergenceWarning,
            )

    @staticmethod
    def _symbolic_deadline(result: TrainResult, deadline: Deadline) -> Deadline:
        """What is left of ``max_time`` for the symbolic stage, but at least a floor; after
        an interrupt only that floor."""
        if result.stop_reason == "interrupted":
            return Deadline.after(_MIN_SYMBOLIC_TIME)
        return deadline.at_least(_MIN_SYMBOLIC_TIME)

    def _unit_dimensions(self) -> UnitDimensions | None:
        """The dimensions of ``X_units`` and ``y_units`` by internal symbol (``None``: no
        units given); a ``ValueError`` naming a unit that cannot be read."""
        return unit_dimensions(self.X_units, self.y_units, self._feature_names())

    def _feature_names(self) -> list[str]:
        return feature_names(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


persistence.register_estimator(KANRegressor)


def _importances(module, z: torch.Tensor, max_rows: int = 10_000) -> np.ndarray:
    """Normalised input-node scores ``(n_features,)`` of ``module`` on ``z`` (every
    ``ceil(n / max_rows)``-th row)."""
    rows = z[:: max(1, -(-z.shape[0] // max_rows))]
    with torch.no_grad():
        scores = module.node_scores(rows)[0].double().cpu().numpy()
    scores = np.where(np.isfinite(scores), np.maximum(scores, 0.0), 0.0)
    total = scores.sum()
    return scores / total if total > 0 else np.zeros_like(scores)


def _normalised_weights(sample_weight, X: np.ndarray) -> np.ndarray | None:
    """``sample_weight`` validated (finite, >= 0, not all 0) and scaled to mean 1, or
    ``None`` when there are none or all are equal (the unweighted fit)."""
    if sample_weight is None:
        return None
    w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight must be finite")
    if not np.any(w > 0):
        raise ValueError("sample_weight is 0 for every sample: nothing to fit")
    if np.all(w == w[0]):
        return None
    return w / w.mean()
