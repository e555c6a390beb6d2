"""Kernel websockets that send small messages at once: ``make lab`` serves the course with it.

A widget's answer reaches the browser as several small websocket frames in a
row (the kernel's *busy* status, the new state, *idle*). Jupyter server leaves
Nagle's algorithm on for its kernel websockets, so the second small frame
waits until the browser has acknowledged the first, and browsers delay that
acknowledgement by up to 40 ms: each slider round trip then takes about 40 ms
more than its work (``benchmarks/bench_widgets.py`` measures it). Setting
``TCP_NODELAY`` on the connection, as tornado's documentation advises for
websockets that send small messages, removes that wait.

Use::

    jupyter lab --ServerApp.kernel_websocket_connection_class=convkit.widgets.nodelay.NoDelayKernelConnection
"""

from __future__ import annotations

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

__all__ = ["SERVER_OPTION", "NoDelayKernelConnection"]


class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):
    """Jupyter server's kernel websocket connection, with ``TCP_NODELAY`` set when it opens."""

    def connect(self):  # noqa: ANN201 (returns what jupyter server's connect returns)
        self.websocket_handler.set_nodelay(True)
        return super().connect()


#: The command-line option that makes a Jupyter server use it.
SERVER_OPTION = (
    "--ServerApp.kernel_websocket_connection_class=convkit.widgets.nodelay.NoDelayKernelConnection"
)
