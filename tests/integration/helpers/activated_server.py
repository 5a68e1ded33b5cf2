"""A non-Node HTTP server started by socket activation: it serves on the socket it finds
at fd 3 (LISTEN_FDS, LISTEN_PID) and never binds a port itself."""
import http.server
import os
import signal
import socket
import sys
import threading

if os.environ.get("LISTEN_PID") != str(os.getpid()) or os.environ.get("LISTEN_FDS") != "1":
    sys.exit(f"not activated: LISTEN_PID={os.environ.get('LISTEN_PID')} "
             f"LISTEN_FDS={os.environ.get('LISTEN_FDS')} pid={os.getpid()}")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"activated pid {os.getpid()}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("", 0), Handler, bind_and_activate=False)
server.socket = socket.socket(fileno=3)
# The socket comes blocking, as systemd hands sockets over. Several workers select() on it,
# and one that loses the race for a connection must get EAGAIN, not block in accept().
server.socket.setblocking(False)
# On SIGTERM finish the request in hand, then exit: the connections still queued on the
# shared socket are left for the other workers.
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
print(f"serving as {os.getpid()}", flush=True)
server.serve_forever()
