"""Go standard-library behaviour that the ported Weaviate code relies on.

Not a port of any Weaviate file: these are the few pieces of Go's own library
(``time.ParseDuration``, ``encoding/json``, ``net.IP`` classification, the
``net/http`` error text) whose exact behaviour shows through the module, so
the port reproduces them once, here, instead of approximating them in place.
"""
