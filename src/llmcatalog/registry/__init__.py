"""The catalog: entries read from TOML data (``data/``) by the built-in domain plugins
(``domains``) and third-party ones, collected through entry points (``plugins``) into an
immutable, indexed :class:`Catalog` (``catalog``) with name matching (``names``) and the
strict data converter (``converter``).

Named ``registry`` rather than ``catalog`` so that the public function :func:`llmcatalog.catalog`
is never shadowed by a subpackage of the same name.
"""
