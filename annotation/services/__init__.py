"""Every write to the domain models happens here, one module per sub-domain.

Services are keyword-only, typed and atomic, and raise :class:`errors.ServiceError`
(which the API maps to 400 or 409) for anything the caller did wrong. Callers import
the module (``from annotation.services import studies``; ``studies.study_create(...)``):
this package re-exports nothing.
"""
