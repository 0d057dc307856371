"""Reference stage-2 solver: SLSQP (scipy) on exactly the objective of solver.py, with its analytic gradient.

SLSQP is what dex-retargeting's released retargeting code runs (through nlopt, LD_SLSQP);
`dexmv bench retarget` measures it in the same run as our projected Levenberg-Marquardt, on the
same frames, warm starts and objective, so the ratio of times and the difference of errors say
what the solver choice buys. Tight tolerances make it the accuracy reference too.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from dexmv_retarget.solver import FrameProblem, SolveResult, TSVObjective


class SLSQPSolver:
    """Same interface as ProjectedLevenbergMarquardt."""

    def __init__(self, objective: TSVObjective, max_iterations: int = 300, tolerance: float = 1e-10) -> None:
        self.objective = objective
        self.max_iterations = max_iterations
        self.tolerance = tolerance

    def solve(self, q0: np.ndarray, problem: FrameProblem) -> SolveResult:
        kin = self.objective.kin
        lo = np.where(problem.free, kin.lower, q0)
        hi = np.where(problem.free, kin.upper, q0)
        x0 = np.clip(q0, lo, hi)
        res = minimize(
            self.objective.cost_and_gradient, x0, args=(problem,), jac=True, method="SLSQP",
            bounds=list(zip(lo, hi, strict=True)),
            options={"maxiter": self.max_iterations, "ftol": self.tolerance},
        )
        q = np.clip(res.x, lo, hi)
        ev = self.objective.evaluate(q, problem, jacobian=False)
        return SolveResult(q, ev.cost, int(res.nit), ev.errors, ev.norms[:-1], float(ev.norms[-1]))
