"""A local web site for browser tests: fixed pages served on 127.0.0.1."""
from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Site:
    def __init__(self, pages: dict[str, str]):
        self.pages = pages
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0])
                data = (body or "<h1>not found</h1>").encode()
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> Site:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


SHOP = '<html><head><title>{name}</title></head><body><h1>{name}</h1><span class="price">{price}</span></body></html>'
# The price element exists at once but its text arrives later, as a shop's JavaScript renders it.
JS_SHOP = ('<html><head><title>{name}</title></head><body><h1>{name}</h1><span class="price"></span>'
           '<script>setTimeout(() => {{ document.querySelector(".price").textContent = {price!r}; }}, {delay_ms});'
           '</script></body></html>')


def shop_page(name: str, price: str) -> str:
    """A pricing page whose price is in the HTML."""
    return SHOP.format(name=name, price=price)


def js_shop_page(name: str, price: str, delay_ms: int = 300) -> str:
    """A pricing page whose price JavaScript writes into an empty element after `delay_ms`."""
    return JS_SHOP.format(name=name, price=price, delay_ms=delay_ms)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
