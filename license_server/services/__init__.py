"""Use cases as plain functions: keyword arguments in, models or results out."""
