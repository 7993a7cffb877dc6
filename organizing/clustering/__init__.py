"""The study's Gibbs-sampled Gaussian mixture of worksite coefficient vectors."""

from organizing.clustering.mixture import *  # noqa: F403
