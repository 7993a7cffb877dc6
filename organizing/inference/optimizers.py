"""The study's SVI optimizer, as its report states it and as its code runs it.

No torch here, so the book's chapters can cite these settings without starting it.
:func:`organizing.inference.svi.fit_svi` runs either (``organizing/config.yml``,
``svi`` and ``svi.code_optimizer``).

The report (its section on stochastic variational inference): "Running for 80,000
steps for completeness with an initial learning rate of 0.015 and a decay factor of
0.9995 (or 0.95 per 100 steps) led to convergence at 18,000 steps, which was used in
subsequent analyses." It had tried and dropped ClippedAdam and names neither the
optimizer it kept nor its moment decay rates; Adam with its default betas is the
reading the book takes.

The code, ``hblr.py`` at commit :data:`STUDY_CODE_COMMIT`, lines 127-139::

    num_iterations = 8000
    scheduler = pyro.optim.ExponentialLR({'optimizer': torch.optim.Adam,
        'optim_args': {"lr": 0.05, "betas": (0.95, 0.999)}, 'gamma': 0.999})
    ...
    for step in range(num_iterations):
        loss = svi.step(*inputs)
        losses.append(loss)
        scheduler.step()

so the learning rate after t steps is 0.05 · 0.999^t, for a fixed 8,000 steps with no
stopping rule; line 152 then saves one draw of the guide, ``guide(*inputs)``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The study's repository and the commit of its regression code (``hblr.py``).
STUDY_REPOSITORY = "rfspringer/walmart-modelling-bayesian"
STUDY_CODE_COMMIT = "9c5472806a747eb4e9a06f40448266f29843cbd0"
#: The lines of ``hblr.py`` at that commit that set up and run the optimizer.
OPTIMIZER_LINES = "127-139"

#: Adam's own moment decay rates (``torch.optim.Adam``'s defaults).
ADAM_BETAS = (0.9, 0.999)


@dataclass(frozen=True)
class Optimizer:
    """Adam with exponential learning-rate decay, lr_t = lr · lr_decay^t, as one source has it.

    ``steps``: the number of steps that source ran; ``converged_at``: the step at which it
    says the loss had converged (None where it says nothing).
    """

    source: str
    lr: float
    betas: tuple[float, float]
    lr_decay: float
    steps: int
    converged_at: int | None


#: The report: learning rate 0.015 decayed by 0.9995 per step, 80,000 steps run,
#: converged after 18,000; no betas named, so Adam's defaults.
REPORT_OPTIMIZER = Optimizer("report", 0.015, ADAM_BETAS, 0.9995, 80_000, 18_000)
#: The code: Adam, lr 0.05, betas (0.95, 0.999), gamma 0.999 per step, 8,000 fixed steps.
CODE_OPTIMIZER = Optimizer("code", 0.05, (0.95, 0.999), 0.999, 8_000, None)
