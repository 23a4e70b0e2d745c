"""DriftingControl: a torque-driven pendulum whose physics and set-point never hold still."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from gymnasium import spaces

from ceaseless.worlds import render, rng
from ceaseless.worlds.change import RandomWalk, Season, Switch
from ceaseless.worlds.core import World, WorldConfig, param

PI = float(np.pi)
TWO_PI = 2.0 * PI

# The ranges the drifting physical parameters move in (SI units; see the class docstring).
MASS = (0.5, 1.5)  # kg, the bob at the end of a massless rod
LENGTH = (0.5, 1.5)  # m
GRAVITY = (6.0, 14.0)  # m/s^2
GAIN = (0.5, 1.5)  # actuator gain: torque per unit action is sign * gain * max_torque
FRICTION = (0.0, 0.5)  # N m s / rad, viscous friction at the pivot
WANDER = 0.5  # rad: the slow wander of the target around its set-point stays in [-WANDER, WANDER]
DRIFT_INTERVAL = 16  # steps between the knots of the random walks (linear in between)
HIDDEN = ("mass", "length", "gravity", "friction", "gain", "sign", "target")  # the diagnostics

# -- sine and cosine from + - * only ------------------------------------------------------------------
# numpy's vectorised sin/cos may round differently from libm (and from one SIMD path to another), and
# instance i of any batch and the single-env fast path must agree bit for bit. So angles in [-pi, pi]
# go through the half angle h = x/2 in [-pi/2, pi/2]: Taylor polynomials of sin(h)/h and cos(h) (both
# to h**22, truncation error < 1e-18 there) give sin(x) = 2 sin(h) cos(h), cos(x) = cos(h)**2 - sin(h)**2.
# Only correctly rounded + - * are used: numpy arrays and Python floats give the same bits everywhere.
_SIN = tuple((-1) ** n / math.factorial(2 * n + 1) for n in range(12))  # sin(h)/h, by powers of h*h
_COS = tuple((-1) ** n / math.factorial(2 * n) for n in range(12))  # cos(h)
_SINCOS = np.array([_SIN, _COS]).T[:, :, None]  # (12, 2, 1): both polynomials in one Horner pass


def sincos(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(sin(x), cos(x))`` of float64 angles in ``[-pi, pi]``, bit-identical to :func:`sincos1`."""
    h = 0.5 * np.asarray(x, dtype=np.float64).reshape(-1)
    h2 = h * h
    p = _SINCOS[11] * h2 + _SINCOS[10]
    for k in range(9, -1, -1):
        p = p * h2 + _SINCOS[k]
    s, c = h * p[0], p[1]
    return ((s + s) * c).reshape(np.shape(x)), ((c - s) * (c + s)).reshape(np.shape(x))


def sincos1(x: float) -> tuple[float, float]:
    """:func:`sincos` of one Python float (the same operations, so the same bits)."""
    h = 0.5 * x
    h2 = h * h
    ps = _SIN[11] * h2 + _SIN[10]
    pc = _COS[11] * h2 + _COS[10]
    for k in range(9, -1, -1):
        ps = ps * h2 + _SIN[k]
        pc = pc * h2 + _COS[k]
    s, c = h * ps, pc
    return (s + s) * c, (c - s) * (c + s)


@dataclasses.dataclass(frozen=True)
class ControlConfig(WorldConfig):
    dt: float = param(0.05, 0.01, 0.1, "integration step in seconds (semi-implicit Euler)")
    max_torque: float = param(12.0, 0.1, 100.0, "torque of action 1 at gain 1, in N m")
    max_speed: float = param(12.0, 1.0, 30.0, "angular speed limit in rad/s (the velocity is clipped to it)")
    tolerance: float = param(0.25, 0.01, 3.0, "tracking width: the bonus is 1/2 at a chord distance this large")
    action_cost: float = param(0.01, 0.0, 1.0, "reward cost of action**2")
    drift: float = param(0.005, 0.0, 0.1, "random-walk step per step of mass, length, gravity and gain "
                         "(fraction of each one's range)")
    friction_rate: float = param(1 / 4000, 0.0, 1.0, "Poisson rate per step of the friction jumping")
    flip_rate: float = param(1 / 10_000, 0.0, 1.0, "Poisson rate per step of the actuator sign flipping")
    season_period: int = param(1000, 1, None, "steps per target set-point")
    num_setpoints: int = param(5, 1, 100, "set-points in the cycle (they recur)")
    target_drift: float = param(0.002, 0.0, 1.0, f"random-walk step per step (rad) of the target's wander "
                                f"around its set-point, within [-{WANDER}, {WANDER}]")


class DriftingControl(World):
    """A pendulum to hold at a moving target angle, under physics that drift, jump and flip.

    A bob of mass ``m`` on a rod of length ``l`` swings about a pivot under gravity ``g`` with
    viscous friction ``b``; a motor at the pivot applies the torque ``sign * gain * max_torque *
    action``. The angle ``theta`` is 0 hanging straight down and grows counter-clockwise; it is
    kept in ``[-pi, pi)``. A stream starts at rest at a random angle, and nothing ever ends: a
    pendulum that falls just keeps swinging. One step of ``dt`` seconds is a semi-implicit Euler
    step with the friction taken implicitly::

        omega' = clip((omega + dt * (sign*gain*max_torque*action/(m*l*l) - (g/l)*sin(theta)))
                      / (1 + dt * b/(m*l*l)), -max_speed, max_speed)
        theta' = wrap(theta + dt * omega')

    ## Observation
    ``Box(float32, (5,))``: ``[cos(theta), sin(theta), omega, cos(target), sin(target)]``, the
    first two and last two in ``[-1, 1]``, ``omega`` in ``[-max_speed, max_speed]``. The physical
    parameters are hidden: the agent infers them from how the pendulum responds.

    ## Actions
    ``Box(-1, 1, (1,), float32)``: the motor command. Values outside ``[-1, 1]`` (or not finite)
    are refused with a ``ValueError`` naming the value and the range; nothing is clipped.

    ## Reward
    ``tolerance**2 / (tolerance**2 + d**2) - action_cost * action**2``, where ``d`` is the chord
    distance ``|(cos, sin)(theta') - (cos, sin)(target)|`` between the angle the action led to and
    the target of the step it was taken in: 1 on target, 1/2 at ``d = tolerance``, about 0.015 at
    the opposite side; always in ``[-action_cost, 1]``. The reward is continuing: track, or balance.

    ## Non-stationarity
    - **drift**: mass in [0.5, 1.5] kg, length in [0.5, 1.5] m, gravity in [6, 14] m/s^2 and the
      actuator gain in [0.5, 1.5] are random walks (step ``drift`` times each range, reflected), so
      the torque needed to hold an angle and whether the motor can lift the bob unaided keep moving.
    - **switch**: at Poisson times (``friction_rate``) the pivot friction jumps to a fresh value in
      [0, 0.5] N m s/rad; at Poisson times (``flip_rate``) the actuator's sign flips, which turns a
      learned controller into one that drives the pendulum away from the target until it re-learns.
    - **season**: the target cycles through ``num_setpoints`` set-points (uniform on the circle),
      ``season_period`` steps each; the cycle recurs, so what was learned about a set-point pays
      again. On top, the target wanders slowly (random walk, step ``target_drift`` rad, within
      +-0.5 rad) around its set-point.

    ## Reference policies
    Oracle: knows the true current parameters. Near the target (within 0.5 rad), or anywhere when
    the motor can overpower gravity, it applies computed torque (gravity and friction cancelled,
    critically damped PD on the angle error, exact for the discrete step); otherwise it pumps or
    drains energy toward the target's potential energy to swing up. Fallback: action 0 (the
    pendulum hangs and swings freely).

    ## Diagnostics (harness only)
    ``hidden``: ``mass``, ``length``, ``gravity``, ``friction``, ``gain``, ``sign`` and ``target``
    (rad), each ``(B,)``. Regime: the set-point index. (The angle itself is ``world.angle``.)
    """

    id = "ceaseless/DriftingControl-v0"
    changes = ("pendulum mass, length, gravity and motor gain drift; friction jumps; the motor's sign flips; "
               "the target cycles through recurring set-points and wanders")
    Config = ControlConfig
    streams = ("start",)
    state_fields = ("angle", "velocity", "sin_angle", "cos_angle", "last_action")

    def __init__(self, num_envs: int = 1, **config) -> None:
        super().__init__(num_envs, **config)
        c = self.config
        speed = np.float32(c.max_speed)
        self.observation_space = spaces.Box(
            np.array([-1, -1, -speed, -1, -1], dtype=np.float32),
            np.array([1, 1, speed, 1, 1], dtype=np.float32),
            dtype=np.float32,
        )
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        batch = self.num_envs
        # The state. sin/cos of the angle are kept with it: the next step needs them anyway.
        self.angle = np.zeros(batch)
        self.velocity = np.zeros(batch)
        self.sin_angle = np.zeros(batch)
        self.cos_angle = np.ones(batch)
        self.last_action = np.zeros(batch)
        self._tolerance2 = c.tolerance * c.tolerance
        # Oracle gains: critically damped, natural frequency 5 rad/s (slower for coarse steps).
        natural = min(5.0, 0.4 / c.dt)
        self._kp, self._kd = natural * natural, 2.0 * natural

    def make_processes(self):
        c = self.config
        drift = c.drift

        def walk(low_high):
            low, high = low_high
            return RandomWalk(1, drift * (high - low), low, high, interval=DRIFT_INTERVAL)

        return {
            "setpoint": Season(1, c.num_setpoints, c.season_period, -PI, PI),
            "wander": RandomWalk(1, c.target_drift, -WANDER, WANDER, interval=DRIFT_INTERVAL),
            "mass": walk(MASS),
            "length": walk(LENGTH),
            "gravity": walk(GRAVITY),
            "gain": walk(GAIN),
            "friction": Switch(1, *FRICTION, rate=c.friction_rate, update="resample"),
            "sign": Switch(1, rate=c.flip_rate, update="negate"),
        }

    # -- per-block tables ------------------------------------------------------------------------
    def _new_block(self) -> None:
        e, c = self.engine, self.config
        mass, length = e.block("mass")[..., 0], e.block("length")[..., 0]
        gravity, gain = e.block("gravity")[..., 0], e.block("gain")[..., 0]
        friction, sign = e.block("friction")[..., 0], e.block("sign")[..., 0]
        inertia = mass * length * length
        self._gravity_accel = gravity / length  # (B, L): angular acceleration per unit sin(theta)
        self._action_accel = sign * gain * c.max_torque / inertia  # per unit action (signed)
        self._friction_rate = friction / inertia  # per unit angular velocity
        self._dt_gravity = c.dt * self._gravity_accel
        self._dt_action = c.dt * self._action_accel
        self._damping = 1.0 / (1.0 + c.dt * self._friction_rate)
        target = np.mod(e.block("setpoint")[..., 0] + e.block("wander")[..., 0] + PI, TWO_PI) - PI
        self._target = target
        self._target_sin, self._target_cos = sincos(target)
        self._hidden = np.stack([mass, length, gravity, friction, gain, sign, target], axis=-1)  # see HIDDEN
        if self.num_envs == 1:  # rows of Python floats for step_one
            self._one = np.stack([self._dt_action[0], self._dt_gravity[0], self._damping[0],
                                  self._target_cos[0], self._target_sin[0]], axis=1).tolist()

    # -- dynamics ------------------------------------------------------------------------------------
    def _start(self) -> None:
        start = rng.uniform(self.keys["start"], np.uint64(0))
        self.angle[:] = -PI + TWO_PI * start
        self.velocity[:] = 0.0
        self.sin_angle[:], self.cos_angle[:] = sincos(self.angle)
        self.last_action[:] = 0.0

    def _act(self, actions):
        c, k = self.config, self.engine.offset
        if self.num_envs == 1:  # a batch of one: the scalar kernel is many times faster
            return np.array([self._act_one(float(actions[0, 0]), k)])
        action = actions[:, 0]
        velocity = (self.velocity + (self._dt_action[:, k] * action - self._dt_gravity[:, k] * self.sin_angle)) \
            * self._damping[:, k]
        np.clip(velocity, -c.max_speed, c.max_speed, out=velocity)
        angle = self.angle + c.dt * velocity
        angle = np.where(angle >= PI, angle - TWO_PI, np.where(angle < -PI, angle + TWO_PI, angle))
        sine, cosine = sincos(angle)
        self.angle[:], self.velocity[:], self.sin_angle[:], self.cos_angle[:] = angle, velocity, sine, cosine
        self.last_action[:] = action
        dc, ds = cosine - self._target_cos[:, k], sine - self._target_sin[:, k]
        bonus = self._tolerance2 / (self._tolerance2 + (dc * dc + ds * ds))
        return bonus - c.action_cost * (action * action)

    def _act_one(self, a: float, k: int) -> float:
        """:meth:`_act` of a batch of one in Python floats: the same operations in the same order,
        so the same bits (the batch-size and parity tests hold the two kernels equal)."""
        c = self.config
        dt_action, dt_gravity, damping, target_cos, target_sin = self._one[k]
        velocity = (float(self.velocity[0]) + (dt_action * a - dt_gravity * float(self.sin_angle[0]))) * damping
        if velocity > c.max_speed:
            velocity = c.max_speed
        elif velocity < -c.max_speed:
            velocity = -c.max_speed
        angle = float(self.angle[0]) + c.dt * velocity
        if angle >= PI:
            angle -= TWO_PI
        elif angle < -PI:
            angle += TWO_PI
        sine, cosine = sincos1(angle)
        self.angle[0], self.velocity[0], self.sin_angle[0], self.cos_angle[0] = angle, velocity, sine, cosine
        self.last_action[0] = a
        dc, ds = cosine - target_cos, sine - target_sin
        return self._tolerance2 / (self._tolerance2 + (dc * dc + ds * ds)) - c.action_cost * (a * a)

    def _observe(self):
        k = self.engine.offset
        observations = np.empty((self.num_envs, 5), dtype=np.float32)
        observations[:, 0] = self.cos_angle
        observations[:, 1] = self.sin_angle
        observations[:, 2] = self.velocity
        observations[:, 3] = self._target_cos[:, k]
        observations[:, 4] = self._target_sin[:, k]
        return observations

    def step_one(self, action):
        """Fast path for a batch of one (held equal to :meth:`step` by a parity test)."""
        if not self._reset_done or type(action) is not np.ndarray or action.shape != (1,):
            return super().step_one(action)
        a = float(action[0])
        if not -1.0 <= a <= 1.0:  # also NaN
            return super().step_one(action)  # raises the standard ValueError
        reward = self._act_one(a, self.t - self.engine.block_start)
        self.t += 1
        if self.engine.advance():
            self._new_block()
        row = self._one[self.t - self.engine.block_start]
        observation = (self.cos_angle[0], self.sin_angle[0], self.velocity[0], row[3], row[4])
        return np.array(observation, dtype=np.float32), reward

    # -- diagnostics and reference policies ------------------------------------------------------
    def target(self) -> np.ndarray:
        """Current target angle ``(B,)`` in ``[-pi, pi]``."""
        return self._target[:, self.engine.offset]

    def hidden(self):
        row = self._hidden[:, self.engine.offset]
        return {name: row[:, j] for j, name in enumerate(HIDDEN)}

    def fallback_action(self):
        return np.zeros((self.num_envs, 1), dtype=np.float32)

    def oracle_action(self):
        """Computed torque near the target (or anywhere when the motor beats gravity), energy
        pumping elsewhere; all from the true current parameters."""
        k, dt = self.engine.offset, self.config.dt
        gravity, action_accel = self._gravity_accel[:, k], self._action_accel[:, k]
        friction = self._friction_rate[:, k]
        target, angle, velocity = self._target[:, k], self.angle, self.velocity
        error = np.mod(target - angle + PI, TWO_PI) - PI
        # Computed torque: the acceleration that makes the next step follow a PD law exactly.
        wanted = self._kp * error - self._kd * velocity
        needed = wanted * (1.0 + dt * friction) + friction * velocity + gravity * self.sin_angle
        direct = needed / action_accel
        # Energy shaping (per unit inertia): reach the potential energy of the target, at rest.
        energy = 0.5 * velocity * velocity + gravity * (1.0 - self.cos_angle)
        goal = gravity * (1.0 - self._target_cos[:, k])
        push = np.copysign(np.maximum(np.abs(velocity), 0.5), velocity)  # along the motion, never 0
        pump = 4.0 * (goal - energy) * push / action_accel
        use_direct = (np.abs(error) < 0.5) | (np.abs(action_accel) > 1.2 * gravity)
        action = np.clip(np.where(use_direct, direct, pump), -1.0, 1.0)
        return action[:, None].astype(np.float32)

    # -- rendering ---------------------------------------------------------------------------------
    def render_rgb(self, index):
        """The pendulum (white rod; the bob green while the motor's sign is +1, red while -1) and
        the target (a gold ray, dim inside the circle, bright outside)."""
        size, centre, radius = 96, 47.5, 36.0
        image = np.empty((size, size, 3), dtype=np.uint8)
        image[:] = render.BACKGROUND

        def ray(angle: float, start: float, stop: float, colour, width: int) -> None:
            along = np.linspace(start, stop, 64)
            rows = np.rint(centre + along * np.cos(angle)).astype(int)
            cols = np.rint(centre + along * np.sin(angle)).astype(int)
            for dr in range(width):
                for dc in range(width):
                    image[np.clip(rows + dr, 0, size - 1), np.clip(cols + dc, 0, size - 1)] = colour

        target, angle = float(self.target()[index]), float(self.angle[index])
        ray(target, 0.0, radius, render.UNKNOWN, 1)
        ray(angle, 0.0, radius, render.AGENT, 2)
        ray(target, radius + 5, radius + 11, render.GOAL, 2)
        bob_r, bob_c = round(centre + radius * np.cos(angle)), round(centre + radius * np.sin(angle))
        sign = self._hidden[index, self.engine.offset, HIDDEN.index("sign")]
        image[max(bob_r - 3, 0):bob_r + 4, max(bob_c - 3, 0):bob_c + 4] = render.PALETTE[1 if sign > 0 else 0]
        image[46:50, 46:50] = render.WALL
        return image

    def render_ansi(self, index):
        rows, cols = 11, 21
        grid = np.full((rows, cols), " ")
        along = np.linspace(0.0, 1.0, 12)
        for angle, mark, reach in ((self.target()[index], "*", 1.0), (self.angle[index], "o", 0.9)):
            r = np.rint(5 + 5 * reach * along * np.cos(angle)).astype(int)
            c = np.rint(10 + 10 * reach * along * np.sin(angle)).astype(int)
            grid[r[1:], c[1:]] = mark
        grid[5, 10] = "+"
        h = {name: float(value[index]) for name, value in self.hidden().items()}
        header = (f"t={self.t} setpoint={int(self.engine.regime()[index])} angle={self.angle[index]:+.2f} "
                  f"velocity={self.velocity[index]:+.2f} target={h['target']:+.2f} "
                  f"last action={self.last_action[index]:+.2f}\n"
                  f"mass={h['mass']:.2f} length={h['length']:.2f} gravity={h['gravity']:.2f} "
                  f"friction={h['friction']:.2f} gain={h['gain']:.2f} sign={h['sign']:+.0f}\n")
        return header + "\n".join("".join(row) for row in grid) + "\n"
