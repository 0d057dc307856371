"""Stage 2 of DexMV's retargeting: task-space-vector optimization of the 30 joints for one frame.

Objective (metres, radians):

    F(q) = sum_v w_v huber_delta(|T_v - v(q)|) + w_wrist huber_delta(|p_wrist - p_0(q)|)
           + 1/2 sum_j s_j^2 (q_j - q_prev_j)^2 + 1/2 W_c sum_c dist(a_c . q, [lo_c, hi_c])^2,
                                                         lower <= q <= upper

with T_v the scaled human vectors, v(q) the robot's (kinematics.py), the Huber loss on each
vector's length (robust to a bad keypoint without giving up the quadratic fit of good ones) and a
smoothness term toward the previous frame's solution (s_j in metres per joint unit). The last term
is the model's DIP-PIP couplings (limited fixed tendons a_c . q in [lo_c, hi_c], see kinematics.py)
as a stiff penalty: the optimizer then picks the best pose the hand can take, and the projection
onto the couplings that follows the solve moves it by microradians instead of undoing part of it.

Solver: projected Levenberg-Marquardt with iteratively reweighted least squares for the Huber
loss. Each iteration is one MuJoCo forward-kinematics-plus-Jacobian call and one 30x30 Cholesky
solve (LAPACK dposv); joints at a bound whose gradient points outward are held (the active set of
projected Newton methods) and the step is clipped to the limits, so every iterate is feasible.
From a warm start (the previous frame) it converges in 2 to 4 iterations. `reference.py` solves
the same objective with SLSQP, the optimizer dex-retargeting runs (through nlopt), and
`dexmv bench retarget` compares the two in one run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from dexmv_retarget.hand_keypoints import WRIST
from dexmv_retarget.kinematics import AdroitKinematics
from dexmv_retarget.task_vectors import VECTOR_PAIRS


@dataclass(frozen=True)
class SolverSettings:
    """Weights and stopping rules of the stage-2 optimization (see README for how they were chosen)."""

    huber_delta: float = 0.01  # m: residuals beyond 1 cm count linearly
    smooth_hinge: float = 0.005  # m per rad: 0.1 rad of change costs like 0.5 mm of vector error
    smooth_slide: float = 0.05  # m per m: 1 cm of arm travel costs like 0.5 mm of vector error
    coupling_weight: float = 1e4  # per (tendon m)^2: ~100x the stiffness of the vector terms on a DIP joint
    max_iterations: int = 12
    cost_tolerance: float = 1e-3  # stop when the cost falls (or would, predicts Gauss-Newton) by less than this ratio


@dataclass
class FrameProblem:
    """What one frame asks of the robot."""

    targets: np.ndarray  # (V, 3) scaled human vectors in world
    weights: np.ndarray  # (V,) per-vector weight; 0 drops a vector (missing keypoints)
    wrist_target: np.ndarray | None  # (3,) palm origin target in world, None in fingers-only mode
    wrist_weight: float
    q_prev: np.ndarray  # (30,) smoothness anchor
    free: np.ndarray  # (30,) bool: joints the optimizer may move


@dataclass
class Evaluation:
    """Residuals, cost and Jacobians at one configuration."""

    q: np.ndarray
    residual: np.ndarray  # (3V + 3,) target minus robot: the V vectors, then the wrist position
    norms: np.ndarray  # (V + 1,) per vector, then the wrist
    cost: float
    jac: np.ndarray | None  # (3V + 3, 30) d(robot vectors, robot wrist)/dq
    tendon: np.ndarray | None = None  # (C,) the couplings' tendon values at q
    excess: np.ndarray | None = None  # (C,) how far each leaves its band (coupling_excess)

    @property
    def errors(self) -> np.ndarray:
        return self.residual[:-3].reshape(-1, 3)


@dataclass
class SolveResult:
    q: np.ndarray
    cost: float
    iterations: int
    errors: np.ndarray  # (V, 3) at the solution
    norms: np.ndarray  # (V,)
    wrist_error: float  # m, |wrist target - robot palm origin| (0 without a wrist target)


class TSVObjective:
    """The stage-2 objective, its gradient and Gauss-Newton pieces, shared by our solver and the reference."""

    def __init__(self, kinematics: AdroitKinematics, settings: SolverSettings) -> None:
        self.kin = kinematics
        self.settings = settings
        self.rows = np.unique(np.concatenate([VECTOR_PAIRS.ravel(), [WRIST]]))
        where = {int(k): i for i, k in enumerate(self.rows)}
        self._a = np.array([where[int(a)] for a in VECTOR_PAIRS[:, 0]])
        self._b = np.array([where[int(b)] for b in VECTOR_PAIRS[:, 1]])
        self._wrist = where[WRIST]
        # Vectors as differences of keypoint rows; the wrist is one more "vector" from the origin:
        # keypoint 0 minus keypoint 0 for its Jacobian rows (zero, overwritten), points padded below.
        self._pts_a = np.append(VECTOR_PAIRS[:, 0], len(self.kin.kp_body))
        self._pts_b = np.append(VECTOR_PAIRS[:, 1], WRIST)
        self._padded = np.zeros((len(self.kin.kp_body) + 1, 3))
        self._cache_q: np.ndarray | None = None
        self._cache: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
        self._a_ext = np.append(self._a, self._wrist)
        self._b_ext = np.append(self._b, self._wrist)
        # The vectors and the wrist as one product with the keypoints: row v is +1 at its end, -1 at
        # its start (the wrist row: +1 at the wrist). Two nonzero terms per row, so the product is
        # exactly the difference; the same matrix turns keypoint Jacobians into vector Jacobians.
        self._diff = np.zeros((len(VECTOR_PAIRS) + 1, len(self.kin.kp_body)))
        self._diff[np.arange(len(VECTOR_PAIRS) + 1), self._pts_b] += 1.0
        self._diff[np.arange(len(VECTOR_PAIRS)), VECTOR_PAIRS[:, 0]] -= 1.0
        self._diff_rows = self._diff[:, self.rows]  # on the keypoints the vectors use (self.rows)
        self._target_buf = np.zeros(3 * len(VECTOR_PAIRS) + 3)
        self._weight_buf = np.zeros(len(VECTOR_PAIRS) + 1)
        self.smooth = np.where(kinematics.is_hinge, settings.smooth_hinge, settings.smooth_slide) ** 2
        # Couplings as a matrix A (C, 30) with bands [lo, hi]: penalty 1/2 W dist(A q, band)^2.
        couplings = kinematics.couplings
        self.coupling_matrix = np.zeros((len(couplings), len(kinematics.lower)))
        for c, (i, j, ci, cj, _, _) in enumerate(couplings):
            self.coupling_matrix[c, i], self.coupling_matrix[c, j] = ci, cj
        self.coupling_low = np.array([c[4] for c in couplings])
        self.coupling_high = np.array([c[5] for c in couplings])

    def coupling_excess(self, q: np.ndarray) -> np.ndarray:
        """(C,) signed amount by which each coupling's tendon leaves its band (0 inside)."""
        t = self.coupling_matrix @ q
        return t - np.minimum(np.maximum(t, self.coupling_low), self.coupling_high)

    def huber(self, norms: np.ndarray) -> np.ndarray:
        """n^2 / 2 up to delta, delta (n - delta / 2) beyond: with m = min(n, delta), m (n - m / 2)."""
        m = np.minimum(norms, self.settings.huber_delta)
        return m * (norms - 0.5 * m)

    def _pack(self, problem: FrameProblem) -> tuple[np.ndarray, np.ndarray]:
        """Targets (3V + 3,) and per-term weights (V + 1,), the wrist as one more term (weight 0 if unused).

        Written into buffers this objective owns (valid until the next call), not allocated per call.
        """
        target, weight = self._target_buf, self._weight_buf
        target[:-3] = problem.targets.ravel()
        weight[:-1] = problem.weights
        if problem.wrist_target is None:
            target[-3:] = 0.0
            weight[-1] = 0.0
        else:
            target[-3:] = problem.wrist_target
            weight[-1] = problem.wrist_weight
        return target, weight

    def evaluate(self, q: np.ndarray, problem: FrameProblem, jacobian: bool = True,
                 packed: tuple[np.ndarray, np.ndarray] | None = None, warm: bool = False) -> Evaluation:
        """Cost, residuals and (optionally) Jacobian at q; `warm` reuses the kinematics of the last call
        when q is where it ended (a warm start), since they do not depend on the targets."""
        target, weight = packed if packed is not None else self._pack(problem)
        if warm and self._cache_q is not None and np.array_equal(q, self._cache_q):
            # A warm start begins where the previous frame ended: kinematics do not depend on targets.
            points, jac = self._cache
        else:
            points, jkp = self.kin.points_and_jacobian(q, self.rows, jacobian)
            jac = None
            if jacobian:  # (V + 1, 3, 30) -> (3V + 3, 30); a new array, so the cache needs no copy
                jac = (self._diff_rows @ jkp.reshape(len(self.rows), -1)).reshape(-1, q.shape[0])
                self._cache_q, self._cache = q.copy(), (points, jac)
        residual = target - (self._diff_rows @ points).ravel()
        r3 = residual.reshape(-1, 3)
        norms = np.sqrt(np.einsum("ij,ij->i", r3, r3))
        dq = q - problem.q_prev
        tendon = self.coupling_matrix @ q
        excess = tendon - np.minimum(np.maximum(tendon, self.coupling_low), self.coupling_high)
        m = np.minimum(norms, self.settings.huber_delta)  # the Huber loss (see `huber`)
        cost = (float(weight @ (m * (norms - 0.5 * m))) + 0.5 * float(dq @ (self.smooth * dq))
                + 0.5 * self.settings.coupling_weight * float(excess @ excess))
        return Evaluation(q, residual, norms, cost, jac, tendon, excess)

    def irls_weights(self, ev: Evaluation, problem: FrameProblem,
                     packed: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Per-row weights (3V + 3,) of the Gauss-Newton model of the Huber loss: w * min(1, delta / |e|)."""
        weight = (packed if packed is not None else self._pack(problem))[1]
        n = np.maximum(ev.norms, 1e-12)
        return np.repeat(weight * np.minimum(n, self.settings.huber_delta) / n, 3)

    def gradient(self, ev: Evaluation, problem: FrameProblem) -> np.ndarray:
        """dF/dq at ev (exact: d huber(|e|) = min(1, delta / |e|) e . de, which is the IRLS weight)."""
        rw = self.irls_weights(ev, problem)
        coupling = self.settings.coupling_weight * (self.coupling_matrix.T @ self.coupling_excess(ev.q))
        return -(ev.jac.T @ (rw * ev.residual)) + self.smooth * (ev.q - problem.q_prev) + coupling

    def cost_and_gradient(self, q: np.ndarray, problem: FrameProblem) -> tuple[float, np.ndarray]:
        ev = self.evaluate(q, problem)
        return ev.cost, self.gradient(ev, problem)


_EDGE = 1e-9  # tendon metres: a coupling this close to its band's edge is treated as on it


class ProjectedLevenbergMarquardt:
    """Our stage-2 solver (module docstring); deterministic, allocation-light, one thread.

    On 30 unknowns numpy's per-call overhead (about a microsecond) costs more than the arithmetic,
    so the loop is written to make few calls: constant matrices are built once (the couplings'
    Gauss-Newton terms per coupling), the held joints' rows are taken out with `take` rather than
    an open-mesh index, and the trial point built for the coupling check is the one evaluated.
    """

    def __init__(self, objective: TSVObjective) -> None:
        self.objective = objective
        self.lower = objective.kin.lower
        self.upper = objective.kin.upper
        self._smooth_diag = np.diag(objective.smooth)
        n = len(self.lower)
        a_mat, c_w = objective.coupling_matrix, objective.settings.coupling_weight
        # Coupling c's Gauss-Newton Hessian term W a_c a_c^T, flattened: an active mask @ this sums the
        # active ones (each entry has one nonzero term, so the sum is exactly what rows.T @ rows gives).
        self._coupling_hess = (c_w * np.einsum("ci,cj->cij", a_mat, a_mat)).reshape(len(a_mat), n * n)
        self._edge_high = objective.coupling_high - _EDGE
        self._edge_low = objective.coupling_low + _EDGE

    def _step(self, hess: np.ndarray, grad: np.ndarray, free: np.ndarray | None,
              mu: float) -> tuple[np.ndarray | None, np.ndarray, np.ndarray] | None:
        """The damped Newton step on the joints `free` (None: all): (free, step, their gradient);
        None when the system is not positive definite (cannot happen with smoothing > 0)."""
        if free is not None:
            h, g = hess.take(free, 0).take(free, 1), grad.take(free)
        else:
            h, g = (hess.copy() if mu > 0 else hess), grad
        if mu > 0:  # h + mu diag(h), on the diagonal only
            diagonal = h.ravel()[:: h.shape[0] + 1]
            diagonal += mu * diagonal
        _, step, info = lapack.dposv(h, -g)
        return None if info != 0 else (free, step, g)

    def solve(self, q0: np.ndarray, problem: FrameProblem) -> SolveResult:
        obj, s = self.objective, self.objective.settings
        lo, hi = self.lower, self.upper
        a_mat, c_lo, c_hi, c_w = obj.coupling_matrix, obj.coupling_low, obj.coupling_high, s.coupling_weight
        edge_lo, edge_hi, coupling_hess = self._edge_low, self._edge_high, self._coupling_hess
        smooth, q_prev = obj.smooth, problem.q_prev
        packed = obj._pack(problem)
        all_free = bool(problem.free.all())
        q = np.minimum(np.maximum(q0, lo), hi)
        if not all_free:
            q = np.where(problem.free, q, q0)
            fixed = ~problem.free
        ev = obj.evaluate(q, problem, packed=packed, warm=True)
        weight, delta = packed[1], s.huber_delta
        n_joints = q.shape[0]
        mu = 0.0
        iterations = 0
        while iterations < s.max_iterations:
            iterations += 1
            n = np.maximum(ev.norms, 1e-12)
            sw = np.sqrt(weight * np.minimum(n, delta) / n).repeat(3)  # IRLS weights of the Huber loss
            jw = ev.jac * sw[:, None]
            hess = jw.T @ jw
            hess += self._smooth_diag
            grad = smooth * (q - q_prev) - jw.T @ (ev.residual * sw)
            # Couplings outside their band or on its edge: the penalty's Gauss-Newton terms (exact for a
            # linear map). On the edge counts (within a rounding margin): a warm start is the previous
            # frame's projected solution, which sits exactly there, and its rounding must not decide
            # whether the model sees the coupling. Only an active coupling has a nonzero excess.
            tendon, excess = ev.tendon, ev.excess
            active = (tendon >= edge_hi) | (tendon <= edge_lo)
            hess += (active @ coupling_hess).reshape(n_joints, n_joints)
            grad += c_w * (a_mat.T @ excess)
            # Projected Newton's active set: joints on a bound whose descent direction leaves it.
            held = np.where(grad > 0, q <= lo, q >= hi)
            if not all_free:
                held |= fixed
            free = np.flatnonzero(~held)
            if free.size == n_joints:
                free = None
            elif free.size == 0:
                break
            solved = self._step(hess, grad, free, mu)
            if solved is not None:
                trial = q.copy()
                if solved[0] is None:
                    trial += solved[1]
                else:
                    trial[solved[0]] += solved[1]
                # A step that would carry a coupling out of its band: model that coupling as held at
                # the band's edge it crosses and solve again (one extra 30x30 solve, no extra kinematics).
                t_trial = a_mat @ trial
                crossing = ((t_trial > c_hi) | (t_trial < c_lo)) & ~active
                if crossing.any():
                    edge = np.where(t_trial[crossing] > c_hi[crossing], c_hi[crossing], c_lo[crossing])
                    rows = a_mat[crossing]
                    hess += c_w * (rows.T @ rows)
                    grad += c_w * (rows.T @ (tendon[crossing] - edge))
                    solved = self._step(hess, grad, free, mu)
                    trial = None
            if solved is None:  # damp harder
                mu = max(10 * mu, 1e-3)
                continue
            free, step, g = solved
            # Gauss-Newton's predicted decrease (h step = -g): when negligible, q is the answer already.
            if -0.5 * float(g @ step) <= s.cost_tolerance * ev.cost:
                break
            if trial is None:  # the step was solved again
                trial = q.copy()
                if free is None:
                    trial += step
                else:
                    trial[free] += step
            np.maximum(trial, lo, out=trial)  # np.clip costs several times more on 30 values
            np.minimum(trial, hi, out=trial)
            trial_ev = obj.evaluate(trial, problem, packed=packed)
            if trial_ev.cost <= ev.cost:
                decrease = ev.cost - trial_ev.cost
                q, ev = trial, trial_ev
                mu = mu * 0.3 if mu > 1e-6 else 0.0
                if decrease <= s.cost_tolerance * ev.cost:
                    break
            else:
                mu = max(10 * mu, 1e-3)
        return SolveResult(q, ev.cost, iterations, ev.errors, ev.norms[:-1], float(ev.norms[-1]))
