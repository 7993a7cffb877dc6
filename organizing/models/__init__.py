"""The models: Pyro model functions (and their NumPyro mirrors for NUTS)."""
