"""The routing core's parts that the :class:`~ccroute.Router` facade drives.

See docs/structure.md for which module holds which rule.
"""
