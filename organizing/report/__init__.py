"""The report layer: tables, figures and sentences built from typed results only."""
