"""Compatibility with other licensing protocols (EDD Software Licensing)."""
