"""How one request's license is judged: read rows, result codes, signed answers.

Read in this order (each module imports only the ones above it):

- :mod:`.state`: the rows a decision reads — :class:`~.state.ProductInfo`,
  :class:`~.state.LicenseState`, :class:`~.state.SignerRef` — and the SQL that reads
  them (one indexed query for a license, its seats and the domain's activation);
- :mod:`.results`: :class:`~.results.ResultCode` and :func:`~.results.decide`, the
  checks in the protocol's order, a pure function of those rows and the time;
- :mod:`.answers`: the ``lic`` claim, the claims and the signed token of an answer,
  and the answer's public body.

The use cases that put them together are
:func:`license_server.services.validation.validate` and
:func:`license_server.services.activations.activate`.
"""
