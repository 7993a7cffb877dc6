"""Posterior inference, one module per job.

* :mod:`~organizing.inference.svi`: Pyro's SVI, the study's method (the replication and
  the mean-field comparison);
* :mod:`~organizing.inference.nuts`: NumPyro's NUTS for every posterior the book reports;
* :mod:`~organizing.inference.diagnostics`: ArviZ diagnostics and PSIS-LOO;
* :mod:`~organizing.inference.convergence`: the rule a NUTS run is checked by, and its
  record (no ArviZ, so that the results and the report can read it);
* :mod:`~organizing.inference.calibration`: simulation-based calibration;
* :mod:`~organizing.inference.summaries`: the summary of one scalar's draws.

Nothing is imported here, so loading one module does not start torch or JAX.
"""
