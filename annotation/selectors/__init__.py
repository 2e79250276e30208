"""Reads that need a permission check or aggregation, one module per concern.

Fetching an object together with its permission check is one function (``access``), so a
view cannot forget the check. Selectors read models only: they never import the services
(the services read through them). Callers import the functions from their module; this
package re-exports nothing.
"""
