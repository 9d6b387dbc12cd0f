"""ccroute-linechat: customers chat with agents a line at a time over TCP.

A minimal, complete channel plugin (the plugin author guide's example):
:class:`LineChat` implements the channel hooks, and :mod:`ccroute_linechat.plugin`
is what the ``ccroute`` entry point loads.
"""

from .channel import LineChat, LineChatError

__all__ = ["LineChat", "LineChatError"]
