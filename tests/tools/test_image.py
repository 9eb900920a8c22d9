"""image: real images in, real files out (sizes, formats, pixels); paths outside the artifacts refused."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import resource
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from tools.egress import EgressPolicy
from tools.errors import EgressDenied, ToolError, ToolInputError
from tools.registry import get_action


@pytest.fixture
def context(tool_context, tmp_path):
    return dataclasses.replace(tool_context, artifacts_dir=tmp_path / "artifacts")


def call(context, action: str, **params):
    return get_action(f"image.{action}").run(params, context)


def make_image(context, name: str, size=(400, 200), color="blue", mode="RGB", fmt="PNG") -> Path:
    path = context.artifacts_dir / "t-test" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path, fmt)
    return path


def opened(out: dict) -> Image.Image:
    path = Path(out["path"])
    assert path.is_file()
    image = Image.open(path)
    assert (image.width, image.height) == (out["width"], out["height"])
    return image


def test_resize_keeps_the_aspect_ratio_when_given_one_side(context):
    source = make_image(context, "wide.png", (400, 200))
    out = call(context, "resize", path=str(source), width=100)

    image = opened(out)
    assert image.size == (100, 50) and image.format == "PNG" and out["format"] == "png"
    assert Path(out["path"]).parent == context.artifacts_dir / "t-test"


def test_resize_to_both_sides_and_another_format(context):
    make_image(context, "wide.png", (400, 200))
    out = call(context, "resize", path="t-test/wide.png", width=30, height=90, format="webp")

    image = opened(out)
    assert image.size == (30, 90) and image.format == "WEBP"


def test_crop_cuts_out_the_box(context):
    path = make_image(context, "square.png", (100, 100), "blue")
    image = Image.open(path)
    image.paste((255, 0, 0), (10, 10, 30, 30))
    image.save(path)

    out = call(context, "crop", path=str(path), left=10, top=10, width=20, height=20)

    cropped = opened(out).convert("RGB")
    assert cropped.size == (20, 20)
    assert set(cropped.get_flattened_data()) == {(255, 0, 0)}


def test_crop_outside_the_image_is_refused(context):
    path = make_image(context, "small.png", (50, 50))
    with pytest.raises(ToolInputError, match=r"the box reaches \(60, 20\) but the image is 50x50"):
        call(context, "crop", path=str(path), left=40, top=0, width=20, height=20)


def test_convert_png_with_transparency_to_jpeg_on_white(context):
    path = make_image(context, "clear.png", (40, 40), (0, 0, 0, 0), mode="RGBA")
    out = call(context, "convert", path=str(path), format="jpeg", quality=95)

    image = opened(out)
    assert image.format == "JPEG" and out["format"] == "jpeg" and out["path"].endswith(".jpeg")
    r, g, b = image.convert("RGB").getpixel((20, 20))
    assert min(r, g, b) > 245  # transparent became white, not black


def test_annotate_draws_a_filled_rectangle_and_text(context):
    path = make_image(context, "screenshot.png", (300, 120), "white")
    out = call(context, "annotate", path=str(path), marks=[
        {"type": "rectangle", "x": 10, "y": 10, "width": 20, "height": 20, "color": "black", "fill": "#000000"},
        {"type": "text", "x": 100, "y": 40, "text": "Login button", "color": "red", "size": 30},
    ])

    image = opened(out).convert("RGB")
    assert image.size == (300, 120)
    assert image.getpixel((15, 15)) == (0, 0, 0) and image.getpixel((5, 5)) == (255, 255, 255)
    text_pixels = image.crop((100, 40, 300, 90)).get_flattened_data()
    assert sum(1 for r, g, b in text_pixels if r > 200 and g < 80 and b < 80) > 50  # red text was drawn


def test_annotate_with_an_unknown_colour_is_refused(context):
    path = make_image(context, "screenshot.png", (100, 100))
    with pytest.raises(ToolInputError, match="'not-a-colour' is not a colour"):
        call(context, "annotate", path=str(path), marks=[{"type": "text", "x": 1, "y": 1, "text": "x",
                                                           "color": "not-a-colour"}])


def test_thumbnail_of_a_screenshot_fits_the_box(context):
    path = make_image(context, "page.png", (1920, 1080), "white")
    out = call(context, "thumbnail", path=str(path), maxWidth=320, maxHeight=320)

    assert opened(out).size == (320, 180)


def test_base64_input_data_url(context):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "green").save(buffer, "GIF")
    data_url = "data:image/gif;base64," + base64.b64encode(buffer.getvalue()).decode()

    out = call(context, "thumbnail", base64=data_url, maxWidth=32, maxHeight=32)

    image = opened(out)
    assert image.size == (32, 24) and image.format == "GIF"


def test_bar_chart_is_drawn_at_the_asked_size_with_the_series_colours(context):
    out = call(context, "chart", type="bar", title="Signups", labels=["Mon", "Tue", "Wed", "Thu"],
               series=[{"name": "web", "values": [3, 7, 2, 9]}, {"name": "mobile", "values": [1, 4, -2, 5]}],
               width=640, height=400)

    image = opened(out).convert("RGB")
    assert image.size == (640, 400) and out["format"] == "png"
    colours = image.getcolors(maxcolors=640 * 400)
    counts = {colour: count for count, colour in colours}
    assert counts[(0x4E, 0x79, 0xA7)] > 2000 and counts[(0xF2, 0x8E, 0x2B)] > 1000  # both series' bars
    assert counts[(255, 255, 255)] < 640 * 400 * 0.95  # not blank


def test_line_chart_draws_its_line(context):
    out = call(context, "chart", type="line", labels=[str(i) for i in range(30)],
               series=[{"name": "latency", "values": [i * i for i in range(30)]}], format="jpeg")

    image = opened(out).convert("RGB")
    assert image.size == (800, 500) and Image.open(out["path"]).format == "JPEG"
    blue = sum(1 for r, g, b in image.get_flattened_data() if b > 130 and r < 120)
    assert blue > 500


def test_chart_series_must_match_the_labels(context):
    with pytest.raises(ToolInputError, match="series 'a' has 2 values for 3 labels"):
        call(context, "chart", labels=["x", "y", "z"], series=[{"name": "a", "values": [1, 2]}])


def test_paths_outside_the_artifacts_are_refused(context, tmp_path):
    outside = tmp_path / "outside.png"
    Image.new("RGB", (10, 10)).save(outside)  # a real image, just not an artifact
    (context.artifacts_dir / "t-test").mkdir(parents=True)
    (context.artifacts_dir / "t-test" / "link.png").symlink_to(outside)

    for path in [str(outside), "../outside.png", "/etc/passwd", "t-test/../../outside.png", "t-test/link.png"]:
        with pytest.raises(ToolInputError, match="outside the task's artifacts directory"):
            call(context, "resize", path=path, width=5)
    assert list((context.artifacts_dir / "t-test").iterdir()) == [context.artifacts_dir / "t-test" / "link.png"]


def test_a_decompression_bomb_is_refused(context):
    path = make_image(context, "bomb.png", (8000, 8000), 0, mode="1")  # a few KB on disk, 64 M pixels
    with pytest.raises(ToolInputError, match="8000x8000 = 64000000 pixels, over the 40000000-pixel limit"):
        call(context, "thumbnail", path=str(path))


def test_the_bomb_check_holds_even_with_pillows_own_check_switched_off(context, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # as another module might leave it
    path = make_image(context, "bomb.png", (8000, 8000), 0, mode="1")
    with pytest.raises(ToolInputError, match="over the 40000000-pixel limit"):
        call(context, "resize", path=str(path), width=10)


def test_resizing_10x10_to_10000x10000_is_refused_before_a_pixel_is_allocated(context):
    """The attack as found: a tiny image blown up to 100 megapixels took 1.4 GB in the worker."""
    source = make_image(context, "tiny.png", (10, 10))
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    with pytest.raises(ToolInputError, match=r"the resized image would be 10000x10000 = 100000000 pixels, "
                                             r"over the 40000000-pixel limit \(AGENT_IMAGE_MAX_PIXELS\)"):
        call(context, "resize", path=str(source), width=10000, height=10000)

    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 100 * 1024
    assert list(source.parent.iterdir()) == [source]  # nothing written


def test_every_image_action_keeps_to_the_pixel_cap(context, settings):
    settings.AGENT_IMAGE_MAX_PIXELS = 10_000
    source = make_image(context, "small.png", (100, 100))

    assert opened(call(context, "resize", path=str(source), width=100, height=100)).size == (100, 100)
    with pytest.raises(ToolInputError, match="101x100 = 10100 pixels, over the 10000-pixel limit"):
        call(context, "resize", path=str(source), width=101, height=100)
    with pytest.raises(ToolInputError, match="1010x10 = 10100 pixels"):  # one side given: the other follows
        call(context, "resize", path=str(make_image(context, "strip.png", (100, 1))), width=1010)
    with pytest.raises(ToolInputError, match="the chart would be 200x150 = 30000 pixels"):
        call(context, "chart", labels=["a"], series=[{"name": "s", "values": [1]}], width=200, height=150)
    big = make_image(context, "big.png", (200, 100))
    for action, params in [("thumbnail", {}), ("crop", {"left": 0, "top": 0, "width": 10, "height": 10}),
                           ("convert", {"format": "jpeg"})]:
        with pytest.raises(ToolInputError, match=r"big\.png would be 200x100 = 20000 pixels"):
            call(context, action, path=str(big), **params)


def test_generate_refuses_a_size_over_the_cap_before_asking_the_provider(context, settings):
    settings.AGENT_IMAGE_MAX_PIXELS = 1_000_000
    with FakeImageProvider() as provider:
        settings.AGENT_IMAGE_PROVIDER_URL = provider.url
        with pytest.raises(ToolInputError, match="the generated image would be 2000x2000 = 4000000 pixels"):
            call(context, "generate", prompt="a lighthouse", size="2000x2000")

    assert provider.requests == []


def noise(size: tuple[int, int]) -> str:
    """A PNG that does not compress: random pixels, base64."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_tasks_artifacts_stop_at_their_byte_budget(context, settings):
    settings.AGENT_TASK_ARTIFACT_MAX_BYTES = 300_000
    image = noise((200, 200))  # about 120 KB as PNG
    folder = context.artifacts_dir / "t-test"
    call(context, "convert", base64=image, format="png")
    call(context, "convert", base64=image, format="png")
    with pytest.raises(ToolError, match=r"the task's artifacts would be \d+ bytes .* over the 300000-byte limit "
                                        r"\(AGENT_TASK_ARTIFACT_MAX_BYTES\); nothing was written"):
        call(context, "convert", base64=image, format="png")

    files = list(folder.iterdir())
    assert len(files) == 2 and sum(f.stat().st_size for f in files) <= 300_000
    other_task = dataclasses.replace(context, task_id="t-other")  # the budget is the task's, not everyone's
    assert opened(call(other_task, "convert", base64=image, format="png")).size == (200, 200)


def test_not_an_image_is_refused(context):
    path = context.artifacts_dir / "t-test" / "notes.png"
    path.parent.mkdir(parents=True)
    path.write_text("hello")
    with pytest.raises(ToolInputError, match="is not an image"):
        call(context, "resize", path=str(path), width=5)


def test_generate_without_a_provider_says_what_to_configure(context, settings, monkeypatch):
    monkeypatch.delenv("AGENT_IMAGE_PROVIDER_URL", raising=False)
    settings.AGENT_IMAGE_PROVIDER_URL = None
    with pytest.raises(ToolError, match="image generation needs AGENT_IMAGE_PROVIDER_URL"):
        call(context, "generate", prompt="a lighthouse at dusk")


class FakeImageProvider:
    """An image-generation service on loopback: answers POST {prompt, size} with {"image": base64 PNG}."""

    def __init__(self):
        self.requests: list[tuple[dict, dict]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.requests.append((body, dict(self.headers)))
                width, height = (int(side) for side in body["size"].split("x"))
                buffer = io.BytesIO()
                Image.new("RGB", (width, height), "orange").save(buffer, "PNG")
                payload = json.dumps({"image": base64.b64encode(buffer.getvalue()).decode()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/generate"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_generate_saves_the_providers_image(context, settings):
    with FakeImageProvider() as provider:
        settings.AGENT_IMAGE_PROVIDER_URL = provider.url
        settings.AGENT_IMAGE_PROVIDER_KEY = "img-key-123"
        out = call(context, "generate", prompt="a lighthouse at dusk", size="64x32", format="webp")

    image = opened(out)
    assert image.size == (64, 32) and image.format == "WEBP"
    assert image.convert("RGB").getpixel((10, 10))[0] > 200  # the provider's orange
    body, headers = provider.requests[0]
    assert body == {"prompt": "a lighthouse at dusk", "size": "64x32"}
    assert headers["Authorization"] == "Bearer img-key-123"


def test_generate_goes_through_the_egress_policy(context, settings):
    strict = dataclasses.replace(context, egress=EgressPolicy())  # loopback not allow-listed
    with FakeImageProvider() as provider:
        settings.AGENT_IMAGE_PROVIDER_URL = provider.url
        with pytest.raises(EgressDenied, match="loopback"):
            call(strict, "generate", prompt="anything")

    assert provider.requests == []
