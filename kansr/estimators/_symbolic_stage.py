"""The symbolic stage of :meth:`KANRegressor.fit`: candidates from the structure searches and
from the network, the Pareto front with the constants' standard errors, and the selection.

A mixin of :class:`~kansr.estimators.kan.KANRegressor`; it reads the fitted network
(``module_``), the scaling (``x_mean_`` ...) and the parameters of the estimator.
"""

from __future__ import annotations

import math

import numpy as np
import sympy
import torch
from sklearn.exceptions import ConvergenceWarning

from kansr.estimators._fit_data import FitData
from kansr.estimators._pins import checked_pins, pin_library
from kansr.nn.fitting import prune_and_retrain
from kansr.nn.network import DTYPES
from kansr.nn.training import TrainingDiverged
from kansr.symbolic.cross_validation import (
    CV_MAX_ROWS,
    cross_validated_choice,
    fewer_constants_choice,
    more_constants_choice,
)
from kansr.symbolic.decompose.candidates import decomposition_formulas
from kansr.symbolic.expressions import complexity, n_rows, weighted_variance
from kansr.symbolic.extract import extract_formulas
from kansr.symbolic.finish import formula_if_finite
from kansr.symbolic.library import make_library
from kansr.symbolic.names import EquationTable, formula_latex, named_expr
from kansr.symbolic.offsets import fewer_offsets
from kansr.symbolic.pareto import Formula, information_criterion, pareto_table, select
from kansr.symbolic.structure.search import structure_formulas
from kansr.symbolic.uncertainty import fitted_constants, standard_errors
from kansr.symbolic.units import formulas_with_units
from kansr.utils.deadline import Deadline
from kansr.utils.progress import StageLog
from kansr.utils.warn import warn_user

__all__ = ["SymbolicStage"]

_LOSS_FLOOR = 1e-14  # losses below this fraction of var(y) are rounding: equal on the front
_EXACT = 1e-14  # a formula this close (fraction of var(y)) is exact: skip the network's search
_MAX_SYMBOLIC_ROWS = 10_000  # rows used by the symbolic stage (deterministic subsample)
_STRUCTURE_SHARE = 0.4  # share of the symbolic stage's time for the structure search
_VARIED = 4  # formulas of lowest criterion whose offsets are dropped one at a time
_POOR_FORMULA = 0.1  # share of var(y) the most accurate formula misses before a warning
_NETWORK_AHEAD = 5.0  # ... if the network's squared error is this many times smaller


class SymbolicStage:
    """Fills ``equations_`` and ``selected_index_`` of a fitted estimator."""

    def _search_formulas(self, data: FitData, deadline: Deadline, log: StageLog) -> None:
        """Fill ``equations_`` and ``selected_index_``: the structure searches on the data,
        then (unless they found an exact formula) the network's candidates, then (unless
        a formula is exact) the best of them with one offset fewer, on a fixed subsample of
        at most ``_MAX_SYMBOLIC_ROWS`` rows; warn when cut short."""
        X, y, z, t, w = data.symbolic_rows(_MAX_SYMBOLIC_ROWS)
        library = make_library(None if self.library is None else list(self.library))
        formulas: list[Formula] = []
        pinned: list[Formula] = []  # read off the network with the user's pins
        cut = None
        exact = _EXACT * weighted_variance(y, w)
        try:
            active = np.flatnonzero(~data.constant_features)
            with log.stage("structure search on the data"):
                if self.search_structure and np.ptp(y) > 0 and active.size:
                    found = self._structure_candidates(X, y, w, active, library, deadline)
                    formulas.extend(found)
            pins = checked_pins(self.pinned_edges, self.module_.layer_shapes, self.library)
            with log.stage("prune, retrain and read formulas off the network"):
                if pins or not any(f.loss <= exact for f in formulas):
                    sharpest = min(formulas, key=lambda f: f.loss).expr if formulas else None
                    split, read = self._network_candidates(
                        X, y, z, t, w, active, library, deadline, pins, sharpest
                    )
                    formulas.extend(split + read)
                    pinned = read if pins else []
        except KeyboardInterrupt:
            cut = "interrupted"
        if cut is None and deadline.expired() and self.stop_reason_ != "interrupted":
            cut = "max_time"  # (after an interrupt in training the stage had only a floor)
        formulas = self._constants_substituted(formulas, X, y, w, data.constant_features)
        pinned = self._constants_substituted(pinned, X, y, w, data.constant_features)
        with log.stage("drop needless offsets"):
            if cut is None and not any(f.loss <= exact for f in formulas):
                try:
                    formulas.extend(_offsets_dropped_of_best(formulas, X, y, w, deadline))
                except KeyboardInterrupt:
                    cut = "interrupted"
        self._set_front(formulas, X, y, w, keep=pinned)
        if cut is not None:
            self._warn_symbolic_cut(cut)
        elif self.stop_reason_ not in ("max_time", "interrupted"):  # (those say why)
            self._warn_if_network_far_ahead(X, y, w)

    def _structure_candidates(self, X, y, w, active, library, deadline) -> list[Formula]:
        """Formulas of :func:`~kansr.symbolic.structure.search.structure_formulas` over the
        ``active`` (non-constant) columns of ``X``, in the internal symbols of all columns."""
        try:
            found = structure_formulas(
                X[:, active],
                y,
                library,
                deadline=deadline.share(_STRUCTURE_SHARE),
                sample_weight=w,
            )
        except (ValueError, ArithmeticError, RecursionError, np.linalg.LinAlgError) as exc:
            warn_user(f"structure search skipped: {exc}", RuntimeWarning)
            return []
        back = {
            sympy.Symbol(f"x{j}", real=True): sympy.Symbol(f"x{i}", real=True)
            for j, i in enumerate(active)
        }
        return [
            Formula(expr=expr.xreplace(back), complexity=complexity(expr), loss=loss)
            for expr, loss in found
        ]

    def _network_candidates(
        self, X, y, z, t, w, active, library, deadline, pins=None, approximant=None
    ) -> tuple[list[Formula], list[Formula]]:
        """The formulas of the trained network (or of the searches' ``approximant``, where
        that is more accurate) split into modules, and those read off its edges after
        pruning and a brief retraining (the ``pins``, ``{(layer, i, o): name}``, read as
        that function)."""
        try:
            found = []
            if self.stop_reason_ != "constant_target":
                found = self._decomposition_candidates(
                    X, y, w, active, library, deadline, approximant
                )
                config = self._train_config()
                weights = None if w is None else torch.as_tensor(w, dtype=z.dtype, device=z.device)
                stop = prune_and_retrain(
                    self.module_,
                    z,
                    t,
                    config,
                    self.prune_threshold,
                    deadline=deadline,
                    sample_weight=weights,
                )
                if stop == "interrupted":
                    raise KeyboardInterrupt
            read = extract_formulas(
                self.module_,
                X,
                y,
                self.x_mean_,
                self.x_scale_,
                self.y_mean_,
                self.y_scale_,
                library,
                dtype=DTYPES[self.dtype],
                deadline=deadline,
                sample_weight=w,
                pinned=self._pins_kept(pins or {}),
            )
            return found, read
        except TrainingDiverged as exc:  # the pruned network could not be retrained
            warn_user(f"symbolic extraction skipped: {exc}", RuntimeWarning)
            return [], []

    def _pins_kept(self, pins: dict) -> dict:
        """``{(layer, i, o): SymbolicFunction}`` of the pins whose edge pruning kept; a
        warning names those it cut."""
        functions = pin_library(self.library)
        kept, cut = {}, []
        for (level, i, o), name in pins.items():
            if float(self.module_.layers[level].mask[i, o]) == 0.0:
                cut.append((level, i, o))
            else:
                kept[(level, i, o)] = functions[name]
        if cut:
            warn_user(
                f"pinned edges {cut} were pruned (they contributed little to the fit): their "
                "pins were not used; lower prune_threshold to keep them",
                UserWarning,
            )
        return kept

    def _decomposition_candidates(
        self, X, y, w, active, library, deadline, approximant=None
    ) -> list[Formula]:
        """Formulas of the trained (not yet pruned) network, or of ``approximant`` where
        that is more accurate, split into modules over the ``active`` (non-constant) columns
        (:func:`~kansr.symbolic.decompose.candidates.decomposition_formulas`)."""
        try:
            return decomposition_formulas(
                self.module_,
                X,
                y,
                self.x_mean_,
                self.x_scale_,
                self.y_mean_,
                self.y_scale_,
                library,
                active=active,
                deadline=deadline,
                sample_weight=w,
                approximant=approximant,
            )
        except (ValueError, ArithmeticError, RecursionError, np.linalg.LinAlgError) as exc:
            warn_user(f"decomposition skipped: {exc}", RuntimeWarning)
            return []

    @staticmethod
    def _constants_substituted(formulas, X, y, w, constant_features) -> list[Formula]:
        """A constant feature is its value, not a variable: substitute it in every formula
        (those no longer finite are dropped)."""
        if not constant_features.any():
            return formulas
        values = {
            sympy.Symbol(f"x{i}", real=True): sympy.Float(float(X[0, i]), 15)
            for i in np.flatnonzero(constant_features)
        }
        out = [formula_if_finite(f.expr.xreplace(values), X, y, w) for f in formulas]
        return [f for f in out if f is not None]

    def _set_front(self, formulas: list[Formula], X, y, w=None, keep=()) -> None:
        """``equations_`` (the Pareto front of the formulas within ``maxsize``, made
        dimensionally consistent with ``X_units, y_units`` where given, the constant
        always on it, with the standard errors of their constants on ``X, y`` and weights
        ``w``; the formulas of ``keep``, those of the user's pins, even when dominated) and
        the selection."""
        units = self._unit_dimensions()
        if units is not None:
            formulas = formulas_with_units(formulas, X, y, units, w)
        if self.maxsize is not None:
            formulas = [f for f in formulas if f.complexity <= self.maxsize]
            keep = [f for f in keep if f.complexity <= self.maxsize]
        mean = float(np.average(y, weights=w))
        constant = sympy.Float(mean, 15)  # always a valid, finite formula
        variance = weighted_variance(y, w)
        formulas = [*formulas, Formula(expr=constant, complexity=1, loss=variance)]
        floor = _LOSS_FLOOR * variance
        table = pareto_table(formulas, floor, n_samples=n_rows(y, w), keep=keep)
        names = self._feature_names()
        # the formulas in the features' safe names: as text (what formula_text gives) and
        # LaTeX; sympy_format keeps the internal x0 .. (predict and save read it)
        named = [named_expr(e, names) for e in table["sympy_format"]]
        table.insert(
            list(table.columns).index("sympy_format"),
            "equation",
            [sympy.sstr(e, full_prec=True) for e in named],
        )
        table["latex"] = [formula_latex(e, names) for e in table["sympy_format"]]
        table["std_errors"] = [_format_errors(e, X, y, w) for e in table["sympy_format"]]
        self.equations_ = EquationTable(table)
        n = n_rows(y, w)
        self.selected_index_ = select(table, self.model_selection, floor, n, variance)
        if self.model_selection in ("bic", "cv") and n <= CV_MAX_ROWS:
            self._check_on_held_out_rows(table, floor, n, X, y, w)

    def _check_on_held_out_rows(self, table, floor: float, n: int, X, y, w) -> None:
        """On small data, the criterion's choice gives way to a formula of fewer constants
        that predicts held-out rows at least as well (:func:`fewer_constants_choice`), else
        to one of one constant more that predicts them more than 5 % better
        (:func:`more_constants_choice`), and, with ``model_selection="cv"``, to one nearly
        as good by the criterion that predicts them better (:func:`cross_validated_choice`).
        An interrupt keeps the choice made."""
        crit = information_criterion(table, n, floor)
        try:
            chosen = self.selected_index_
            self.selected_index_ = fewer_constants_choice(table, crit, chosen, X, y, w, floor)
            if self.selected_index_ == chosen:
                self.selected_index_ = more_constants_choice(table, crit, chosen, X, y, w, floor)
            if self.model_selection == "cv":
                self.selected_index_ = cross_validated_choice(
                    table, crit, self.selected_index_, X, y, w, floor
                )
        except KeyboardInterrupt:  # the choice made so far stands
            self._warn_symbolic_cut("interrupted")

    def _warn_if_network_far_ahead(self, X, y, w=None) -> None:
        """Warn when even the most accurate formula on the front misses much of ``y`` that
        the network explains (:func:`network_far_ahead`): the law is then likely outside
        the library's and the searches' reach, and the selected formula is no law."""
        variance = weighted_variance(y, w)
        best = float(np.min(self.equations_["loss"]))
        if not best > _POOR_FORMULA * variance:  # the usual case: no network pass needed
            return
        network = float(np.average((self._predict_network(X) - y) ** 2, weights=w))
        if network_far_ahead(best, network, variance):
            warn_user(
                "no formula found explains the data as the network does: the most accurate "
                f"one on equations_ has R^2 {1 - best / variance:.3f} on the training rows, the "
                f"network {1 - network / variance:.3f}. The law is likely outside the "
                "library's and the searches' reach (a wider library, more rows or pinned edges "
                "may help), or the network overfits: compare predict_network with predict on "
                "held-out rows",
                UserWarning,
            )

    def _warn_symbolic_cut(self, cut: str) -> None:
        if self.stop_reason_ not in ("interrupted", "max_time"):
            self.stop_reason_ = cut
        message = (
            "KeyboardInterrupt during the symbolic stage"
            if cut == "interrupted"
            else f"max_time={self.max_time} s ran out during the symbolic stage"
        )
        warn_user(
            f"{message}: equations_ holds the formulas found so far",
            UserWarning if cut == "interrupted" else ConvergenceWarning,
        )


def network_far_ahead(best_loss: float, network_loss: float, variance: float) -> bool:
    """Whether the network's mean squared error ``network_loss`` is less than a
    ``_NETWORK_AHEAD``-th of the most accurate formula's ``best_loss`` while that formula
    misses more than ``_POOR_FORMULA`` of the target's ``variance`` (on small noisy data a
    network that interpolates is ahead of every formula, but a good formula is not poor)."""
    if not variance > 0 or not np.isfinite(network_loss):
        return False
    return best_loss > _POOR_FORMULA * variance and network_loss * _NETWORK_AHEAD < best_loss


def _offsets_dropped_of_best(formulas, X, y, w, deadline: Deadline) -> list[Formula]:
    """The :func:`~kansr.symbolic.offsets.fewer_offsets` variants of the
    ``_VARIED`` formulas of lowest information criterion on the front of ``formulas``."""
    if not formulas:
        return []
    variance = weighted_variance(y, w)
    n = n_rows(y, w)
    table = pareto_table(formulas, _LOSS_FLOOR * variance, n_samples=n)
    crit = information_criterion(table, n, _LOSS_FLOOR * variance)
    best = [i for i in np.argsort(crit, kind="stable")[:_VARIED] if np.isfinite(crit[i])]
    rows = [
        Formula(expr=r.sympy_format, complexity=int(r.complexity), loss=float(r.loss))
        for r in table.iloc[best].itertuples()
    ]
    return fewer_offsets(rows, X, y, w, deadline)


def _format_errors(expr: sympy.Expr, X: np.ndarray, y: np.ndarray, w=None) -> str:
    """Standard errors of the fitted constants of ``expr`` on ``X, y`` (weights ``w``) as
    text (comma separated, in the order of
    :func:`~kansr.symbolic.uncertainty.fitted_constants`; ``nan`` where they cannot be
    estimated: the fit never fails for want of them)."""
    constants = fitted_constants(expr)
    try:
        errors = standard_errors(expr, X, y, w)
    except Exception:  # noqa: BLE001 - numpy or sympy failed on this formula
        errors = {}
    return ",".join(repr(errors.get(c, math.nan)) for c in constants)
