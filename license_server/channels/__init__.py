"""Sales channels: licences issued from a store's signed events, Envato purchase codes.

- :mod:`.signatures`: each store's signature, checked exactly as the store signs;
- :mod:`.stores`: each store's event body read into one :class:`~.stores.Sale`;
- :mod:`.inbound`: the use case of one inbound event (receipt, licences, mail, log);
- :mod:`.connections`: the admin use cases (connections, mappings, the event log);
- :mod:`.envato_api`, :mod:`.envato`: Envato's author sale API, purchase codes
  accepted as licence keys, the daily re-check;
- :mod:`.api`, :mod:`.schemas`: the admin routes, the inbound route, the hook of
  the public endpoints. docs/CHANNELS.md is the vendor's guide.
"""
