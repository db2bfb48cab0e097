"""The WordPress drop-in client, built per vendor: prefixed names, pinned keys.

:func:`build.build_files` turns the PHP source in ``client/wordpress/`` into the copy a
vendor ships: every ``Lcwp`` class, ``lcwp_`` option and hook and ``lcwp-`` text domain
renamed to the vendor's prefix (so two products using the client never collide), and
``config.php`` holding the server URL, the issuer, the product and the pinned public
keys. The CLI (``license-server wp-client``) writes it to a folder; the admin API
answers it as a ZIP.
"""
