"""Every write to the domain models happens here, one module per sub-domain.

Services are keyword-only, typed and atomic, and raise :class:`errors.ServiceError`
(which the API maps to 400 or 409) for anything the caller did wrong. They read through
the selectors, never the other way round, and never import the API layer (views, apis,
serializers, admin). Callers import the functions from their module
(``from annotation.services.studies import study_create``): the names already say their
domain, and this package re-exports nothing.
"""
